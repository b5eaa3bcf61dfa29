// The OpenAPI document checked by a tool nobody here wrote (run by ctest as
// `openapi_lint`): `redocly lint` with its recommended rules, pinned in
// package.json beside playwright-core. No telemetry, no update check: the
// tests talk to 127.0.0.0/8 only.
// Usage: node openapi-lint.mjs [path/to/openapi.json]
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const cli = join(here, 'node_modules', '@redocly', 'cli', 'bin', 'cli.js');
const doc = resolve(process.argv[2] || join(here, '..', '..', 'http', 'openapi.json'));
if (!existsSync(cli)) {
  console.error('openapi lint: @redocly/cli is missing; run scripts/install-deps test (npm ci in tests/browser)');
  process.exit(1);
}
const r = spawnSync(process.execPath, [cli, 'lint', '--extends=recommended', '--format=stylish', doc], {
  stdio: 'inherit',
  env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true', REDOCLY_SUPPRESS_NOTIFICATIONS: 'true' },
  timeout: 120000,
});
process.exit(r.status === null ? 1 : r.status);
