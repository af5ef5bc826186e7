/**
 * `npm run lint:openapi`: writes kvq's OpenAPI document (as GET /openapi.json serves it) to a
 * temporary file and lints it with Redocly CLI under redocly.yaml. Building the document needs no
 * Redis: the app is wired to stand-ins that refuse any use, and only /openapi.json is asked.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { type ApiDeps, createApp, createAuthenticator } from '../src/api/index.ts';
import { createLogger } from '../src/core/index.ts';

const root = fileURLToPath(new URL('../', import.meta.url));

/** A dependency the document does not need: any use of it is a bug in this script. */
const unused = new Proxy(() => undefined, {
  get(_, prop) {
    throw new Error(`building the document used a store (${String(prop)})`);
  },
  apply() {
    throw new Error('building the document used a store');
  },
}) as never;

const deps: ApiDeps = {
  ledger: unused,
  records: unused,
  deadLetters: unused,
  enqueue: unused,
  acceptAndEnqueue: unused,
  admission: unused,
  keyBusyWaitMs: 0,
  waiter: unused,
  logger: createLogger('silent', 'lint-openapi'),
  limits: { maxKeyBytes: 512, maxValueBytes: 1024 },
  readAfterWaitMs: 0,
  docsEnabled: true,
  auth: createAuthenticator({ legacyTokens: ['lint'], cacheMs: 0 }),
  apiKeys: unused,
  auditLog: unused,
  isShuttingDown: () => false,
};

const res = await createApp(deps).request('/openapi.json');
if (res.status !== 200) {
  console.error(`GET /openapi.json answered ${String(res.status)}: ${await res.text()}`);
  process.exit(1);
}
const dir = mkdtempSync(join(tmpdir(), 'kvq-openapi-'));
const file = join(dir, 'openapi.json');
writeFileSync(file, await res.text());
const lint = spawnSync(
  join(root, 'node_modules/.bin/redocly'),
  ['lint', '--config', join(root, 'redocly.yaml'), '--format', 'stylish', file],
  {
    stdio: 'inherit',
    env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' },
  },
);
rmSync(dir, { recursive: true, force: true });
process.exit(lint.status ?? 1);
