/**
 * `npm run docs:screenshot [-- out.png]`: proves /docs renders with no network but loopback.
 * Starts `kvq dev` on 127.0.0.1 (own redis-servers, free port), then headless Chromium with every
 * other host unresolvable and a dead proxy for anything not on 127.0.0.1; checks that the DOM
 * after rendering holds the kvq title and the operation list, and that the screenshot (default
 * /tmp/kvq-docs.png) is not one flat colour. Skips, saying so, when Chromium is not installed
 * (Debian: apt-get install -y chromium). Exit 1 when the page does not render.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inflateSync } from 'node:zlib';

import { freePort } from '../src/redis/index.ts';
import { waitReady } from './wait-ready.ts';

const root = fileURLToPath(new URL('../', import.meta.url));
const out = process.argv[2] ?? '/tmp/kvq-docs.png';

const chromium = ['chromium', 'chromium-browser', 'google-chrome'].find(
  (bin) => spawnSync(bin, ['--version'], { stdio: 'ignore' }).status === 0,
);
if (!chromium) {
  console.log('docs-screenshot: SKIPPED, no chromium on PATH (apt-get install -y chromium)');
  process.exit(0);
}

/** Pixels of an 8-bit RGB(A) PNG, unfiltered: enough to tell a blank page from a rendered one. */
function distinctColours(png: Buffer): number {
  let pos = 8;
  let width = 0;
  let height = 0;
  let channels = 0;
  const idat: Buffer[] = [];
  while (pos < png.length) {
    const len = png.readUInt32BE(pos);
    const type = png.toString('latin1', pos + 4, pos + 8);
    const data = png.subarray(pos + 8, pos + 8 + len);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      if (data[8] !== 8) throw new Error('expected an 8-bit PNG');
      channels = data[9] === 6 ? 4 : data[9] === 2 ? 3 : 0;
      if (!channels) throw new Error('expected an RGB or RGBA PNG');
    } else if (type === 'IDAT') idat.push(data);
    pos += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const prev = Buffer.alloc(stride);
  const row = Buffer.alloc(stride);
  const colours = new Set<number>();
  for (let y = 0; y < height; y++) {
    const base = y * (stride + 1);
    const filter = raw[base];
    for (let x = 0; x < stride; x++) {
      const v = raw[base + 1 + x] ?? 0;
      const a = x >= channels ? (row[x - channels] ?? 0) : 0;
      const b = prev[x] ?? 0;
      const c = x >= channels ? (prev[x - channels] ?? 0) : 0;
      const p = a + b - c;
      const [pa, pb, pc] = [Math.abs(p - a), Math.abs(p - b), Math.abs(p - c)];
      const paeth = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      const add = [0, a, b, (a + b) >> 1, paeth][filter ?? 0] ?? 0;
      row[x] = (v + add) & 0xff;
    }
    for (let x = 0; x < stride; x += channels) {
      colours.add(((row[x] ?? 0) << 16) | ((row[x + 1] ?? 0) << 8) | (row[x + 2] ?? 0));
    }
    row.copy(prev);
  }
  return colours.size;
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

/** Headless Chromium that can reach 127.0.0.1 and nothing else. */
function browse(args: string[]): string {
  const r = spawnSync(
    chromium as string,
    [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
      `--user-data-dir=${mkdtempSync(join(dir, 'profile-'))}`,
      '--proxy-server=127.0.0.1:1',
      '--proxy-bypass-list=127.0.0.1',
      '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
      '--window-size=1280,2000',
      '--virtual-time-budget=15000',
      ...args,
      `${url}/docs`,
    ],
    { encoding: 'utf8', timeout: 120_000, maxBuffer: 64 * 1024 * 1024 },
  );
  if (r.status !== 0) throw new Error(`chromium failed (${String(r.status)}): ${r.stderr}`);
  return r.stdout;
}

let code = 1;
try {
  if (!(await waitReady(url, 30_000))) throw new Error(`kvq dev did not get ready at ${url}`);
  const dom = browse(['--dump-dom']);
  const operations = dom.match(/class="opblock opblock-/g)?.length ?? 0;
  const missing = ['<title>kvq API</title>', 'Read a key', 'Create or replace a key'].filter(
    (s) => !dom.includes(s),
  );
  browse([`--screenshot=${out}`]);
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
