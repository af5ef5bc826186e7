/**
 * `npm run docs:screenshot [-- out.png]`: proves /docs renders with no network but loopback.
 * Starts `kvq dev` on 127.0.0.1 (own redis-servers, free port), then headless Chromium with every
 * other host unresolvable and a dead proxy for anything not on 127.0.0.1; checks that the DOM
 * after rendering holds the kvq title and the operation list, and that the screenshot (default
 * /tmp/kvq-docs.png) is not one flat colour. Skips, saying so, when Chromium is not installed
 * (Debian: apt-get install -y chromium). Exit 1 when the page does not render.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { freePort } from '../src/redis/index.ts';
import { browse, distinctColours, findChromium } from './headless-chromium.ts';
import { waitReady } from './wait-ready.ts';

const root = fileURLToPath(new URL('../', import.meta.url));
const out = process.argv[2] ?? '/tmp/kvq-docs.png';

const chromium = findChromium();
if (!chromium) {
  console.log('docs-screenshot: SKIPPED, no chromium on PATH (apt-get install -y chromium)');
  process.exit(0);
}

const dir = mkdtempSync(join(tmpdir(), 'kvq-docs-shot-'));
const port = await freePort();
const url = `http://127.0.0.1:${String(port)}`;
const kvq = spawn(process.execPath, [join(root, 'src/bin/kvq.ts'), 'dev'], {
  env: {
    ...process.env,
    PORT: String(port),
    HOST: '127.0.0.1',
    DEV_DATA_DIR: join(dir, 'data'),
    LOG_LEVEL: 'warn',
    DOCS_ENABLED: 'true',
  },
  stdio: ['ignore', 'inherit', 'inherit'],
});

const browseDocs = (args: string[]) => browse(chromium, dir, `${url}/docs`, args);

let code = 1;
try {
  if (!(await waitReady(url, 30_000))) throw new Error(`kvq dev did not get ready at ${url}`);
  const dom = browseDocs(['--dump-dom']);
  const operations = dom.match(/class="opblock opblock-/g)?.length ?? 0;
  const missing = ['<title>kvq API</title>', 'Read a key', 'Create or replace a key'].filter(
    (s) => !dom.includes(s),
  );
  browseDocs([`--screenshot=${out}`]);
  const colours = distinctColours(readFileSync(out));
  console.log(
    `docs-screenshot: ${String(operations)} operations rendered, ${String(colours)} colours in ${out}`,
  );
  if (operations < 10 || missing.length > 0 || colours < 16) {
    console.error(`docs-screenshot: /docs did not render (missing: ${missing.join(', ') || '-'})`);
  } else code = 0;
} catch (err) {
  console.error(`docs-screenshot: ${(err as Error).message}`);
} finally {
  const exited = new Promise((r) => kvq.once('exit', r));
  kvq.kill('SIGINT');
  await exited;
  rmSync(dir, { recursive: true, force: true });
}
process.exit(code);
