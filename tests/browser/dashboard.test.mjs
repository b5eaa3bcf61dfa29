// Browser test of the dashboard (run by ctest as `browser`): a simulated
// world, the real `ringwatch serve`, headless Debian Chromium driven by
// playwright-core. Signs in, opens the top cluster, checks the table and the
// SVG pictures rendered, labels the cluster benign, checks the label is
// stored, and saves a screenshot of the cluster page.
// Env: RW_BIN (the ringwatch binary), RW_OUT_DIR (where the screenshot
// goes, default .), CHROMIUM (default /usr/bin/chromium).
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

let chromium;
try {
  ({ chromium } = await import('playwright-core'));
} catch (e) {
  console.error('browser test: playwright-core is missing; run scripts/install-deps test ' +
    '(npm ci in tests/browser with PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1)');
  process.exit(1);
}

const BIN = process.env.RW_BIN && resolve(process.env.RW_BIN);
assert.ok(BIN, 'RW_BIN: the ringwatch binary');
const OUT = resolve(process.env.RW_OUT_DIR || '.');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const TOKEN = 'analyst-token-browser-0123456789';
const NOTE = 'browser test: known office <script>alert(1)</script>';
const t0 = Date.now();
const step = (what) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1)} s] ${what}`);

const dir = mkdtempSync(join(tmpdir(), 'rw-browser-'));
const db = join(dir, 'ringwatch.db');
let server = null, browser = null;

function rw(...args) {
  execFileSync(BIN, args, { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] });
}

/* Starts the server on a free port; resolves to its base URL. */
function serve() {
  return new Promise((ok, fail) => {
    server = spawn(BIN, ['serve', '--db', db, '--listen', '127.0.0.1:0'], {
      cwd: dir,
      env: { ...process.env, RINGWATCH_TOKEN_ANALYST: TOKEN },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let log = '';
    const timer = setTimeout(() => fail(new Error('server did not start in 30 s:\n' + log)), 30000);
    server.stderr.setEncoding('utf8');
    server.stderr.on('data', (s) => {
      log += s;
      const m = /listening on 127\.0\.0\.1:(\d+)/.exec(log);
      if (m) {
        clearTimeout(timer);
        ok(`http://127.0.0.1:${m[1]}`);
      }
    });
    server.on('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`server exited (${code}):\n${log}`));
    });
  });
}

async function main() {
  rw('simulate', '--accounts', '3000', '--seed', '5', '--out', 'ev.jsonl', '--truth', 'truth.csv');
  rw('ingest', '--quiet', '--db', db, 'ev.jsonl');
  rw('rescore', '--quiet', '--db', db);
  step('world simulated, ingested and scored');
  const base = await serve();
  step('server at ' + base);

  // The static files: public, strict CSP, no sniffing.
  const html = await fetch(base + '/');
  assert.equal(html.status, 200);
  assert.match(html.headers.get('content-type'), /^text\/html/);
  const csp = html.headers.get('content-security-policy') || '';
  assert.match(csp, /default-src 'self'/);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
  assert.equal(html.headers.get('x-content-type-options'), 'nosniff');
  assert.match(await html.text(), /<script src="\/assets\/app\.js"/);
  const js = await fetch(base + '/assets/app.js');
  assert.equal(js.status, 200);
  assert.match(js.headers.get('content-type'), /^text\/javascript/);
  const api = await fetch(base + '/v1/clusters');
  assert.equal(api.status, 401, 'the API still needs the token');

  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  const context = await browser.newContext({ viewport: { width: 1280, height: 1000 }, acceptDownloads: true });
  const page = await context.newPage();
  const problems = [];
  page.on('console', (m) => { if (m.type() === 'error') problems.push(m.text()); });
  page.on('pageerror', (e) => problems.push(String(e)));
  page.setDefaultTimeout(30000);

  await page.goto(base + '/');
  await page.getByTestId('token-input').fill(TOKEN);
  await page.getByTestId('token-submit').click();
  await page.getByTestId('cluster-row').first().waitFor();
  const rows = await page.getByTestId('cluster-row').count();
  assert.ok(rows >= 1, 'the clusters table has rows');
  step(`table rendered: ${rows} rows`);
  const storage = await page.evaluate(() => ({
    session: sessionStorage.getItem('ringwatch.analyst_token'),
    local: localStorage.length,
    cookie: document.cookie,
  }));
  assert.equal(storage.session, TOKEN, 'the token is in sessionStorage');
  assert.equal(storage.local, 0, 'nothing in localStorage');
  assert.equal(storage.cookie, '', 'no cookies');
  assert.equal((await context.cookies()).length, 0);

  // Sorting by score ascending and back: the top row is the highest score.
  const scores = async () => (await page.locator('[data-testid=cluster-row] td:nth-child(2)').allTextContents()).map(Number);
  const desc = await scores();
  assert.deepEqual(desc, [...desc].sort((a, b) => b - a), 'sorted by score, highest first');
  await page.locator('th[data-sort=score]').click();
  const asc = await scores();
  assert.deepEqual(asc, [...asc].sort((a, b) => a - b), 'the score column sorts ascending');
  await page.locator('th[data-sort=score]').click();

  // Paging: every cluster, 2 rows a page; next, next, previous.
  const pageNo = () => page.getByTestId('page-no').textContent();
  const firstId = () => page.getByTestId('cluster-row').first().getAttribute('data-id');
  await page.getByTestId('min-score').fill('0');
  await page.getByTestId('flagged-filter').selectOption('false');
  await page.getByTestId('page-size').selectOption('10');
  await page.getByTestId('filter-apply').click();
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=cluster-row]').length === 10);
  const page1 = await firstId();
  await page.getByTestId('next-page').click();
  await page.waitForFunction(() => document.querySelector('[data-testid=page-no]').textContent === 'page 2');
  const page2 = await firstId();
  assert.notEqual(page2, page1, 'page 2 shows other clusters');
  await page.getByTestId('prev-page').click();
  await page.waitForFunction(() => document.querySelector('[data-testid=page-no]').textContent === 'page 1');
  assert.equal(await firstId(), page1, 'previous page returns to page 1');
  assert.equal(await pageNo(), 'page 1');
  assert.ok(await page.getByTestId('prev-page').isDisabled());
  step('paging: page 1 and 2 of 10 rows, and back');

  const top = page.getByTestId('cluster-row').first();
  const id = await top.getAttribute('data-id');
  assert.match(id, /^c\d+$/);
  await top.click();
  await page.waitForURL(`**/#/clusters/${id}`);
  await page.getByTestId('cluster-view').waitFor();
  assert.equal(await page.getByTestId('cluster-id').textContent(), id);
  for (const pic of ['cluster-graph', 'cluster-timeline']) {
    await page.waitForFunction((tid) => {
      const img = document.querySelector(`[data-testid=${tid}]`);
      return img && img.complete && img.naturalWidth > 0 && img.src.startsWith('blob:');
    }, pic);
  }
  step(`cluster ${id}: graph.svg and timeline.svg rendered from blob: URLs`);
  await page.locator('[data-testid=cluster-members] tbody tr').first().waitFor();
  assert.ok((await page.locator('[data-testid=cluster-reasons] li').count()) >= 1, 'reasons are listed');
  assert.ok((await page.locator('[data-testid=cluster-features] tr').count()) >= 1, 'features are listed');

  // An export arrives as a download from a blob: link.
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-json').click()]);
  assert.match(download.suggestedFilename(), new RegExp(`^cluster-${id.slice(1)}-.*\\.json$`));
  // The notebook's link is the bundle: the notebook and the files it opens.
  const [bundle] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-bundle').click()]);
  assert.match(bundle.suggestedFilename(), /\.zip$/);

  await page.getByTestId('label-note').fill(NOTE);
  await page.getByTestId('label-benign').click();
  await page.locator('[data-testid=label-result].ok').waitFor();
  assert.match(await page.getByTestId('label-result').textContent(), /benign/);
  const stored = execFileSync('sqlite3', ['-json', db,
    "SELECT target_kind, target, label, note FROM labels ORDER BY id DESC LIMIT 1"], { encoding: 'utf8' });
  const [label] = JSON.parse(stored);
  assert.equal(label.target_kind, 'cluster');
  assert.equal('c' + label.target, id);
  assert.equal(label.label, 'benign');
  assert.equal(label.note, NOTE);
  step('label stored: ' + JSON.stringify(label));
  await page.locator('[data-testid=label-entry]').first().waitFor();
  assert.match(await page.locator('[data-testid=label-entry]').first().textContent(), /benign/);

  // The unreviewed filter leaves the labelled cluster out.
  await page.getByTestId('back').click();
  await page.getByTestId('review-filter').selectOption('false');
  await page.getByTestId('filter-apply').click();
  await page.waitForFunction(() => /page 1/.test(document.querySelector('[data-testid=page-no]').textContent));
  await page.getByTestId('cluster-row').first().waitFor();
  const unreviewed = await page.locator('[data-testid=cluster-row]').evaluateAll((trs) => trs.map((t) => t.dataset.id));
  assert.ok(!unreviewed.includes(id), 'a labelled cluster is not unreviewed');
  await page.screenshot({ path: join(OUT, 'dashboard-list.png'), fullPage: true });
  await page.goto(base + '/#/clusters/' + id);
  await page.getByTestId('cluster-view').waitFor();
  await page.locator('[data-testid=label-entry]').first().waitFor();

  const shot = join(OUT, 'dashboard-cluster.png');
  await page.screenshot({ path: shot, fullPage: true });
  step('screenshot ' + shot);

  await page.getByTestId('signout').click();
  await page.getByTestId('login').waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.length), 0, 'sign out forgets the token');
  assert.deepEqual(problems, [], 'no console errors or CSP violations');
}

let failed = false;
try {
  await main();
  step('ok');
} catch (e) {
  failed = true;
  console.error(e);
} finally {
  if (browser) await browser.close().catch(() => {});
  if (server && server.exitCode === null) {
    server.removeAllListeners('exit');
    server.kill('SIGKILL');
  }
  rmSync(dir, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
