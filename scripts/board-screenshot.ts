/**
 * `npm run board:screenshot [-- out.png]`: proves the queue dashboard (Bull Board at
 * /admin/queues) renders with no network but loopback, behind its Basic challenge. Starts
 * `kvq dev` on 127.0.0.1 with a random API token (own redis-servers, free port) and a few writes,
 * then headless Chromium (see headless-chromium.ts) at /admin/queues with `Authorization: Basic
 * base64(admin:<token>)` on every request; checks that the DOM after rendering lists every
 * partition's queue in the UI's own words (its translations loaded) and that the screenshot (default /tmp/kvq-board.png) is not one flat colour. Skips, saying so, when Chromium
 * is not installed (Debian: apt-get install -y chromium). Exit 1 when the board does not render.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { layoutOf } from '../src/bin/stores.ts';
import { loadConfig } from '../src/core/index.ts';
import { freePort } from '../src/redis/index.ts';
import { distinctColours, findChromium, openPage } from './headless-chromium.ts';
import { waitReady } from './wait-ready.ts';

const root = fileURLToPath(new URL('../', import.meta.url));
const out = process.argv[2] ?? '/tmp/kvq-board.png';

const chromium = findChromium();
if (!chromium) {
  console.log('board-screenshot: SKIPPED, no chromium on PATH (apt-get install -y chromium)');
  process.exit(0);
}

const dir = mkdtempSync(join(tmpdir(), 'kvq-board-shot-'));
const port = await freePort();
const url = `http://127.0.0.1:${String(port)}`;
const token = randomBytes(18).toString('base64url');
const env = {
  PORT: String(port),
  HOST: '127.0.0.1',
  DEV_DATA_DIR: join(dir, 'data'),
  LOG_LEVEL: 'warn',
  API_TOKENS: token,
};
const kvq = spawn(process.execPath, [join(root, 'src/bin/kvq.ts'), 'dev'], {
  env: { ...process.env, ...env },
  stdio: ['ignore', 'inherit', 'inherit'],
});
// The queue names the board must show: those of this configuration's partitions.
const layout = layoutOf(loadConfig(env));
const queueNames = Array.from({ length: layout.count }, (_, i) => layout.queueName(i));

let code = 1;
try {
  if (!(await waitReady(url, 30_000))) throw new Error(`kvq dev did not get ready at ${url}`);
  for (let i = 0; i < 20; i++) {
    const r = await fetch(`${url}/v1/keys/board/k${String(i)}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ value: i }),
    });
    if (r.status !== 202) throw new Error(`a write answered ${String(r.status)}`);
  }
  // Without credentials the board is refused with the challenge a browser prompts for.
  const refused = await fetch(`${url}/admin/queues`);
  if (refused.status !== 401 || !/^Basic /.test(refused.headers.get('www-authenticate') ?? '')) {
    throw new Error(`/admin/queues without credentials answered ${String(refused.status)}`);
  }
  // The credentials go in a header: a page whose own URL carries them may not fetch() at all.
  const page = await openPage(chromium, dir, await freePort());
  let dom = '';
  try {
    await page.send('Network.enable');
    const basic = Buffer.from(`admin:${token}`).toString('base64');
    await page.send('Network.setExtraHTTPHeaders', {
      headers: { authorization: `Basic ${basic}` },
    });
    await page.send('Page.navigate', { url: `${url}/admin/queues` });
    // Rendered: every queue named, and the UI's own words loaded (not their message keys).
    const end = Date.now() + 30_000;
    for (;;) {
      // One snapshot: the DOM and its text read apart could straddle a render.
      const snap = (await page.evaluate(
        '({ dom: document.documentElement.outerHTML, text: document.body ? document.body.innerText : "" })',
      )) as { dom?: string; text?: string } | undefined;
      dom = snap?.dom ?? '';
      const text = snap?.text ?? '';
      const done = queueNames.every((n) => text.includes(n)) && !text.includes('MENU.QUEUES');
      if (done || Date.now() > end) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    const shot = (await page.send('Page.captureScreenshot', { format: 'png' })) as { data: string };
    writeFileSync(out, Buffer.from(shot.data, 'base64'));
  } finally {
    await page.close();
  }
  const missing = queueNames.filter((name) => !dom.includes(name));
  const title = dom.includes('<title>kvq queues</title>');
  const untranslated = dom.includes('MENU.QUEUES');
  const colours = distinctColours(readFileSync(out));
  console.log(
    `board-screenshot: ${String(queueNames.length - missing.length)} of ${String(queueNames.length)} queues listed, ${String(colours)} colours in ${out}`,
  );
  if (!title || untranslated || missing.length > 0 || colours < 16) {
    console.error(
      `board-screenshot: /admin/queues did not render (title: ${String(title)}, UI text loaded: ${String(!untranslated)}, missing: ${missing.join(', ') || '-'})`,
    );
  } else code = 0;
} catch (err) {
  console.error(`board-screenshot: ${(err as Error).message}`);
} finally {
  const exited = new Promise((r) => kvq.once('exit', r));
  kvq.kill('SIGINT');
  await exited;
  rmSync(dir, { recursive: true, force: true });
}
process.exit(code);
