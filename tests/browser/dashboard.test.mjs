// Browser test of the dashboard (run by ctest as `browser`): a simulated
// world, the real `ringwatch serve` with two named analyst tokens (alice and
// bob), headless Debian Chromium driven by playwright-core. Signs in, sorts
// and pages the clusters table, opens the top flagged cluster (its graph
// drawn as inline SVG, features with their part in the score), labels it as
// alice, clicks a node of the graph, searches an account, a raw device and
// something unknown, pivots from an account to an attribute and back to a
// cluster, signs in as bob and sees alice's label, author and note, filters
// unreviewed clusters and opens the runs page. Screenshots go to RW_OUT_DIR.
// Env: RW_BIN (the ringwatch binary), RW_OUT_DIR (where the screenshots
// go, default .), CHROMIUM (default /usr/bin/chromium).
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
const ALICE = 'analyst-token-alice-0123456789';
const BOB = 'analyst-token-bob-0123456789xyz';
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
      env: { ...process.env, RINGWATCH_TOKEN_ANALYST: `alice:${ALICE}, bob:${BOB}` },
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
  // Two runs, half the events apart, so the second has new, grown and
  // dissolved clusters to show.
  const lines = readFileSync(join(dir, 'ev.jsonl'), 'utf8').split('\n').filter(Boolean);
  const half = Math.floor(lines.length / 2);
  writeFileSync(join(dir, 'a.jsonl'), lines.slice(0, half).join('\n') + '\n');
  writeFileSync(join(dir, 'b.jsonl'), lines.slice(half).join('\n') + '\n');
  for (const part of ['a.jsonl', 'b.jsonl']) {
    rw('ingest', '--quiet', '--db', db, part);
    rw('rescore', '--quiet', '--db', db);
  }
  step('world simulated, ingested and scored twice');
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

  // Chromium logs every answer that is not 2xx as a console error: the
  // search probes account, then attribute kinds, and a miss is a 404.
  let probing = false;
  page.removeAllListeners('console');
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    if (probing && /status of 404/.test(m.text())) return;
    problems.push(m.text());
  });
  const shot = async (name) => {
    const path = join(OUT, `dashboard-${name}.png`);
    await page.screenshot({ path, fullPage: true });
    step('screenshot ' + path);
  };
  const signIn = async (token) => {
    await page.goto(base + '/');
    await page.getByTestId('token-input').fill(token);
    await page.getByTestId('token-submit').click();
    await page.getByTestId('cluster-row').first().waitFor();
  };
  const search = async (text) => {
    probing = true;
    await page.getByTestId('search-input').fill(text);
    await page.getByTestId('search-submit').click();
  };
  const searched = async (testid) => {
    await page.getByTestId(testid).waitFor({ state: 'visible' });
    probing = false;
  };

  await signIn(ALICE);
  const rows = await page.getByTestId('cluster-row').count();
  assert.ok(rows >= 1, 'the clusters table has rows');
  step(`table rendered: ${rows} rows`);
  const storage = await page.evaluate(() => ({
    session: sessionStorage.getItem('ringwatch.analyst_token'),
    local: localStorage.length,
    cookie: document.cookie,
  }));
  assert.equal(storage.session, ALICE, 'the token is in sessionStorage');
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
  // What changed since the run before is marked in the list.
  // The markers are the run's diff (GET /v1/runs/2) for the clusters listed.
  const changes = (await page.getByTestId('row-change').allTextContents()).sort();
  const diff = await (await fetch(base + '/v1/runs/2', { headers: { Authorization: 'Bearer ' + ALICE } })).json();
  const listed = await page.locator('[data-testid=cluster-row]').evaluateAll((rows) => rows.map((r) => r.dataset.id));
  const ids = (xs) => (xs || []).map((c) => String(typeof c === 'object' ? c.id : c));
  const inDiff = (kind) => listed.filter((id) => ids(diff[kind] || (diff.diff && diff.diff[kind])).includes(id)).map(() => kind);
  const want = [...inDiff('new'), ...inDiff('grown')].sort();
  assert.ok(changes.length >= 1, 'clusters new or grown since run 1 are marked');
  assert.deepEqual(changes, want, 'the markers are the run diff: ' + JSON.stringify(diff).slice(0, 400));

  // Paging: every cluster, 10 rows a page; next, previous.
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
  assert.notEqual(await firstId(), page1, 'page 2 shows other clusters');
  await page.getByTestId('prev-page').click();
  await page.waitForFunction(() => document.querySelector('[data-testid=page-no]').textContent === 'page 1');
  assert.equal(await firstId(), page1, 'previous page returns to page 1');
  assert.equal(await pageNo(), 'page 1');
  assert.ok(await page.getByTestId('prev-page').isDisabled());
  step('paging: page 1 and 2 of 10 rows, and back');

  // A time range: the clusters whose signups overlap the chosen days. The
  // day is one that leaves some clusters out when the world allows it.
  const all = await page.evaluate(async () => {
    const r = await fetch('/v1/clusters?flagged=false&page_size=500', { headers: { Authorization: 'Bearer ' + sessionStorage.getItem('ringwatch.analyst_token') } });
    return (await r.json()).clusters.map((c) => ({ id: c.id, first: c.first_seen, last: c.last_seen }));
  });
  const inDay = (day) => {
    const from = day + 'T00:00:00Z', to = new Date(Date.parse(from) + 86400000).toISOString().replace('.000', '');
    return all.filter((c) => c.last >= from && c.first < to).map((c) => c.id).sort();
  };
  const days = [...new Set(all.map((c) => c.first.slice(0, 10)))].sort();
  const day = days.find((d) => inDay(d).length < all.length) || days[0];
  const wantInRange = inDay(day);
  assert.ok(wantInRange.length > 0 && wantInRange.length <= 200);
  await page.getByTestId('page-size').selectOption('200');
  await page.getByTestId('since').fill(day);
  await page.getByTestId('until').fill(day);
  await page.getByTestId('filter-apply').click();
  await page.waitForFunction((n) => document.querySelectorAll('[data-testid=cluster-row]').length === n &&
    document.querySelector('[data-testid=list-status]').textContent === '', wantInRange.length);
  const shownInRange = (await page.locator('[data-testid=cluster-row]').evaluateAll((trs) => trs.map((t) => t.dataset.id))).sort();
  assert.deepEqual(shownInRange, wantInRange, 'the clusters of ' + day);
  await page.getByTestId('since').fill('');
  await page.getByTestId('until').fill('');
  step(`time range: ${day}, ${wantInRange.length} of ${all.length} clusters`);

  // The top flagged cluster.
  await page.getByTestId('flagged-filter').selectOption('true');
  await page.getByTestId('page-size').selectOption('50');
  await page.getByTestId('filter-apply').click();
  await page.waitForFunction(() => [...document.querySelectorAll('[data-testid=cluster-row] td:nth-child(3)')].every((td) => td.textContent === 'yes'));
  const top = page.getByTestId('cluster-row').first();
  const id = await top.getAttribute('data-id');
  assert.match(id, /^c\d+$/);
  await top.locator('td:nth-child(2)').click();
  await page.waitForURL(`**/#/clusters/${id}`);
  await page.getByTestId('cluster-view').waitFor();
  assert.equal(await page.getByTestId('cluster-id').textContent(), id);
  await page.waitForFunction(() => {
    const img = document.querySelector('[data-testid=cluster-timeline]');
    return img && img.complete && img.naturalWidth > 0 && img.src.startsWith('blob:');
  });
  // The graph: inline SVG, a node per account and attribute, captions in
  // <title>, flagged accounts marked by outline as well as colour.
  await page.locator('[data-testid=graph-node]').first().waitFor();
  const graph = await page.evaluate(() => {
    const nodes = [...document.querySelectorAll('[data-testid=graph-svg] [data-testid=graph-node]')];
    const flagged = nodes.filter((n) => n.dataset.flagged === '1');
    const mark = flagged[0] && flagged[0].querySelector('circle');
    return {
      n: nodes.length,
      accounts: nodes.filter((n) => n.dataset.kind === 'account').length,
      flagged: flagged.length,
      titled: nodes.every((n) => n.querySelector('title') && n.querySelector('title').textContent.length > 0),
      ring: mark ? parseFloat(getComputedStyle(mark).strokeWidth) : 0,
      plainRing: (() => {
        const p = nodes.find((n) => n.dataset.kind === 'account' && n.dataset.flagged === '0');
        return p ? parseFloat(getComputedStyle(p.querySelector('circle')).strokeWidth) : 1;
      })(),
      img: document.querySelectorAll('[data-testid=cluster-graph] img').length,
    };
  });
  assert.ok(graph.accounts >= 2 && graph.n > graph.accounts, 'accounts and attributes drawn: ' + JSON.stringify(graph));
  assert.ok(graph.flagged >= 1, 'flagged accounts in a flagged cluster');
  assert.ok(graph.titled, 'every node has a caption');
  assert.ok(graph.ring >= 2 * graph.plainRing, 'flagged accounts have a thick ring: ' + JSON.stringify(graph));
  assert.equal(graph.img, 0, 'the graph is inline SVG, not a picture');
  step(`cluster ${id}: graph of ${graph.n} nodes (${graph.accounts} accounts, ${graph.flagged} flagged)`);
  await page.locator('[data-testid=cluster-members] tbody tr').first().waitFor();
  assert.ok((await page.locator('[data-testid=cluster-reasons] li').count()) >= 1, 'reasons are listed');
  // Features: meaning, weight and part, and how they make the score.
  const features = await page.getByTestId('feature-row').count();
  assert.ok(features >= 10, 'features are listed');
  const burst = page.locator('[data-testid=feature-row][data-feature=burst]');
  assert.match(await burst.locator('td.meaning').textContent(), /6 hours/);
  assert.match(await burst.locator('td.part').textContent(), /^[+-]\d+\.\d\d/);
  assert.match(await page.getByTestId('score-how').textContent(), /^Score = logistic\(bias/);

  // An export arrives as a download from a blob: link.
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-json').click()]);
  assert.match(download.suggestedFilename(), new RegExp(`^cluster-${id.slice(1)}-.*\\.json$`));
  // The notebook's link is the bundle: the notebook and the files it opens.
  const [bundle] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-bundle').click()]);
  assert.match(bundle.suggestedFilename(), /\.zip$/);

  // alice labels it.
  await page.getByTestId('label-note').fill(NOTE);
  await page.getByTestId('label-fraud').click();
  await page.locator('[data-testid=label-result].ok').waitFor();
  assert.match(await page.getByTestId('label-result').textContent(), /fraud/);
  const stored = execFileSync('sqlite3', ['-json', db,
    'SELECT target_kind, target, label, note, author FROM labels ORDER BY id DESC LIMIT 1'], { encoding: 'utf8' });
  const [label] = JSON.parse(stored);
  assert.deepEqual(label, { target_kind: 'cluster', target: Number(id.slice(1)), label: 'fraud', note: NOTE, author: 'alice' });
  step('label stored: ' + JSON.stringify(label));
  await page.locator('[data-testid=label-entry]').first().waitFor();
  assert.match(await page.locator('[data-testid=label-entry]').first().textContent(), /fraud by alice/);
  await shot('cluster');
  await page.locator('figure.graph').screenshot({ path: join(OUT, 'dashboard-graph.png') });

  // A click on an account of the graph opens its page.
  const node = page.locator('[data-testid=graph-node][data-kind=account][data-flagged="1"]').first();
  const nodeAccount = await node.getAttribute('data-label');
  await node.click();
  await page.waitForURL(`**/#/accounts/${encodeURIComponent(nodeAccount)}`);
  await page.getByTestId('account-view').waitFor();
  assert.equal(await page.getByTestId('account-id').textContent(), nodeAccount);
  step('graph node opened account ' + nodeAccount);

  // Search: an account id (another member), a raw device, and nothing.
  const members = await page.evaluate(async (cid) => {
    const r = await fetch('/v1/clusters/' + cid, { headers: { Authorization: 'Bearer ' + sessionStorage.getItem('ringwatch.analyst_token') } });
    return (await r.json()).members.map((m) => m.account);
  }, id);
  const account = members.find((a) => a !== nodeAccount);
  await page.goto(base + '/#/');
  await search(account);
  await page.waitForURL(`**/#/accounts/${encodeURIComponent(account)}`);
  await searched('account-view');
  await page.locator('[data-testid=account-attributes] tbody tr').first().waitFor();
  await page.locator('[data-testid=account-summary] [data-testid=cluster-link]').first().waitFor();
  const facts = await page.getByTestId('account-summary').textContent();
  assert.match(facts, /Run score\d\.\d{3}/);
  assert.match(facts, new RegExp(`Cluster in the run${id}`));
  assert.match(facts, /First seen\d{4}-\d\d-\d\dT/);
  // Its events, newest first, attributes by pseudonym (links).
  await page.getByTestId('account-event').first().waitFor();
  const evRows = await page.getByTestId('account-event').allTextContents();
  assert.ok(evRows.some((t) => /^\d{4}-\d\d-\d\dT.*signup/.test(t)), 'a signup among its events: ' + evRows[0]);
  assert.ok(await page.locator('[data-testid=account-event] [data-testid=attribute-link]').count() > 0);
  await shot('account');
  step('search: account ' + account);

  const events = readFileSync(join(dir, 'ev.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  const device = events.find((e) => e.account === account && e.device).device;
  await search(device);
  await page.waitForURL('**/#/attributes/device/device:*');
  await searched('attribute-view');
  const pseudonym = await page.getByTestId('attribute-id').textContent();
  assert.match(pseudonym, /^device:[0-9a-f]+$/);
  assert.equal(await page.getByTestId('search-input').inputValue(), '', 'the raw value leaves the search box');
  const leaks = await page.evaluate((raw) => ({
    url: location.href.includes(raw),
    page: document.body.innerText.includes(raw),
    session: Object.keys(sessionStorage).some((k) => sessionStorage.getItem(k).includes(raw)),
    history: history.length,
  }), device);
  assert.deepEqual([leaks.url, leaks.page, leaks.session], [false, false, false], 'the raw device is not echoed');
  await page.locator('[data-testid=attribute-accounts] [data-testid=account-link]', { hasText: account }).waitFor();
  await page.locator('[data-testid=attribute-clusters] [data-testid=cluster-link]').first().waitFor();
  await shot('attribute');
  step('search: raw device -> ' + pseudonym);

  await search('no-such-account-or-device');
  await page.locator('[data-testid=search-status].error').waitFor();
  probing = false;
  assert.match(await page.getByTestId('search-status').textContent(), /^Not found/);
  await shot('not-found');

  // Pivot: account -> one of its attributes -> the cluster its accounts are in.
  await page.goto(base + '/#/accounts/' + encodeURIComponent(account));
  await page.getByTestId('account-view').waitFor();
  const attr = page.locator('[data-testid=account-attributes] [data-testid=attribute-link]', { hasText: pseudonym });
  await attr.click();
  await page.waitForURL(`**/#/attributes/device/${pseudonym}`);
  await page.getByTestId('attribute-view').waitFor();
  const back = page.locator('[data-testid=attribute-clusters] [data-testid=cluster-link]', { hasText: new RegExp(`^${id}$`) });
  await back.click();
  await page.waitForURL(`**/#/clusters/${id}`);
  await page.getByTestId('cluster-view').waitFor();
  await page.locator('[data-testid=graph-node]').first().waitFor();
  step('pivot: account -> attribute -> cluster ' + id);

  // bob sees alice's judgement.
  await page.getByTestId('signout').click();
  await page.getByTestId('login').waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.length), 0, 'sign out forgets the token');
  await signIn(BOB);
  await page.goto(base + '/#/clusters/' + id);
  await page.locator('[data-testid=label-entry]').first().waitFor();
  const entry = page.locator('[data-testid=label-entry]').first();
  assert.match(await entry.textContent(), /^fraud by alice/);
  assert.equal(await entry.getByTestId('label-author').textContent(), 'alice');
  assert.equal(await entry.getByTestId('label-note-text').textContent(), ': ' + NOTE);
  step('bob sees the label, its author and note');

  // The unreviewed filter leaves the labelled cluster out.
  await page.getByTestId('back').click();
  await page.getByTestId('review-filter').selectOption('false');
  await page.getByTestId('filter-apply').click();
  await page.waitForFunction(() => /page 1/.test(document.querySelector('[data-testid=page-no]').textContent));
  await page.getByTestId('cluster-row').first().waitFor();
  await page.waitForFunction(() => document.querySelector('[data-testid=list-status]').textContent === '');
  const unreviewed = await page.locator('[data-testid=cluster-row]').evaluateAll((trs) => trs.map((t) => t.dataset.id));
  assert.ok(!unreviewed.includes(id), 'a labelled cluster is not unreviewed');
  await shot('list');

  // The runs page: the run's time, parameters, model, counts and diff.
  await page.getByTestId('nav-runs').click();
  await page.getByTestId('run-row').first().waitFor();
  const run = await page.getByTestId('run-row').first().textContent();
  assert.equal(await page.getByTestId('run-row').count(), 2);
  assert.match(run, /^2\d{4}-\d\d-\d\dT/, 'the newest run first, with its time');
  assert.match(run, /hub_degree: \d+/, 'its parameters');
  assert.match(run, /defaults/, 'its model');
  const count = (k) => (diff[k] || (diff.diff && diff.diff[k]) || []).length;
  assert.ok(run.includes(`${count('new')} / ${count('grown')} / ${count('dissolved')}`), 'new / grown / dissolved as the API says');
  await page.getByTestId('run-diff-title').waitFor();
  assert.match(await page.getByTestId('run-diff-title').textContent(), /^Run 2 against run 1/);
  assert.equal(await page.locator('[data-testid=diff-new] [data-testid=cluster-link]').count(), count('new'), 'the new clusters open');
  assert.equal(await page.locator('[data-testid=diff-grown] [data-testid=cluster-link]').count(), count('grown'));
  assert.ok((await page.getByTestId('diff-dissolved').textContent()).startsWith(`Dissolved (${count('dissolved')})`));
  await shot('runs');
  await page.getByTestId('run-row').nth(1).click();
  await page.waitForFunction(() => {
    const t = document.querySelector('[data-testid=run-diff-title]');
    return t && /^Run 1 against nothing/.test(t.textContent);
  });

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
