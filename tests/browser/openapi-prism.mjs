// The HTTP end-to-end suite through a tool nobody here wrote (run by ctest
// as `openapi_prism`): `prism proxy --errors` (npm @stoplight/prism-cli,
// pinned in package.json) stands between the suite and every server it
// starts, and checks each request and answer against http/openapi.json. A
// violation is answered as an error (so the test that sent it fails) and is
// listed here, which fails the run too.
//
// The suite restarts its server on a new port for each test, while prism
// takes a second or two to start: one prism serves the whole run, its
// upstream a relay here that forwards each connection to the port the
// suite wrote last (RW_PRISM_UPSTREAM; tests/support/testutil.c).
// Everything listens on 127.0.0.1; no telemetry.
// Usage: node openapi-prism.mjs path/to/openapi.json path/to/test_e2e [criterion args...]
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const cli = join(here, 'node_modules', '@stoplight', 'prism-cli', 'dist', 'index.js');
const [docArg, suite, ...suiteArgs] = process.argv.slice(2);
if (!docArg || !suite) {
  console.error('usage: node openapi-prism.mjs OPENAPI.json TEST_BINARY [args...]');
  process.exit(2);
}
if (!existsSync(cli)) {
  console.error('openapi prism: @stoplight/prism-cli is missing; run scripts/install-deps test (npm ci in tests/browser)');
  process.exit(1);
}
const doc = resolve(docArg);
const work = mkdtempSync(join(tmpdir(), 'rw-prism-'));
const upstreamFile = join(work, 'upstream-port');

const listen = (server) => new Promise((ok, fail) => {
  server.once('error', fail);
  server.listen(0, '127.0.0.1', () => ok(server.address().port));
});

// The relay: each connection goes to the server the suite started last.
const relay = net.createServer((client) => {
  let port = 0;
  try { port = Number(readFileSync(upstreamFile, 'utf8').trim()); } catch { /* no server yet */ }
  if (!port) { client.destroy(); return; }
  const up = net.connect(port, '127.0.0.1');
  const close = () => { client.destroy(); up.destroy(); };
  client.on('error', close).on('close', close);
  up.on('error', close).on('close', close);
  client.pipe(up);
  up.pipe(client);
});
const relayPort = await listen(relay);
// A free port for prism (it takes a number, not 0).
const probe = net.createServer();
const prismPort = await listen(probe);
await new Promise((ok) => probe.close(ok));

const started = Date.now();
const prism = spawn(process.execPath, [cli, 'proxy', doc, `http://127.0.0.1:${relayPort}`, '--errors',
  '--host', '127.0.0.1', '--port', String(prismPort), '--cors=false'], {
  env: { ...process.env, SCARF_ANALYTICS: 'false', DO_NOT_TRACK: '1', NO_COLOR: '1', FORCE_COLOR: '0' },
  stdio: ['ignore', 'pipe', 'pipe'],
});
// Prism's log, whole, beside the test's other output (the working
// directory: ctest's is the build's).
const logPath = resolve('openapi-prism.log');
const log = createWriteStream(logPath);
let requests = 0;
const violations = []; // an answer, or a request the suite meant to be valid, off the document
const refused = [];    // requests prism answered itself; the tests judge whether they meant them
const failed = [];     // upstream connections that failed (a server stopping mid-request)
let ready;
const isReady = new Promise((ok) => { ready = ok; });
let tail = '';
const onOutput = (chunk) => {
  const lines = (tail + chunk.toString()).split('\n');
  tail = lines.pop();
  for (const raw of lines) {
    // eslint-disable-next-line no-control-regex
    const line = raw.replace(/\x1b\[[0-9;]*m/g, '');
    log.write(line + '\n');
    if (/Prism is listening on/.test(line)) ready(true);
    if (/Request received/.test(line)) requests++;
    if (/errors#VIOLATIONS|Violation:/.test(line)) violations.push(line.trim());
    else if (/Request terminated with error: https:\/\/stoplight\.io\/prism\/errors#/.test(line)) refused.push(line.trim());
    else if (/Request terminated with error/.test(line)) failed.push(line.trim());
  }
};
prism.stdout.on('data', onOutput);
prism.stderr.on('data', onOutput);
prism.on('exit', () => ready(false));
const timer = setTimeout(() => ready(false), 60000);
if (!(await isReady)) {
  console.error('openapi prism: prism did not start; its log: ' + logPath);
  prism.kill('SIGKILL');
  relay.close();
  rmSync(work, { recursive: true, force: true });
  process.exit(1);
}
clearTimeout(timer);
console.log(`openapi prism: prism proxy --errors on 127.0.0.1:${prismPort} (started in ${((Date.now() - started) / 1000).toFixed(1)} s), validating against ${doc}`);

const child = spawn(suite, suiteArgs, {
  stdio: 'inherit',
  env: { ...process.env, RW_PRISM_PORT: String(prismPort), RW_PRISM_UPSTREAM: upstreamFile },
});
const rc = await new Promise((ok) => child.on('exit', (code, sig) => ok(code === null ? 128 : code)));
prism.kill('SIGTERM');
relay.close();
rmSync(work, { recursive: true, force: true });
log.end();
console.log(`openapi prism: ${requests} requests through prism; ${violations.length} violations of the document, ` +
  `${refused.length} requests refused by prism (the tests judge them), ${failed.length} upstream failures; log: ${logPath}`);
for (const v of violations) console.log('  ' + v);
process.exit(rc !== 0 ? rc : violations.length ? 1 : 0);
