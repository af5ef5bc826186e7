/**
 * What the offline page checks (docs-screenshot.ts, board-screenshot.ts) share: finding
 * Chromium, running it headless with no network but 127.0.0.1, and telling a blank screenshot
 * from a rendered one.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';

/** The first Chromium on PATH, or undefined. */
export function findChromium(): string | undefined {
  return ['chromium', 'chromium-browser', 'google-chrome'].find(
    (bin) => spawnSync(bin, ['--version'], { stdio: 'ignore' }).status === 0,
  );
}

/**
 * Headless Chromium at `url` that can reach 127.0.0.1 and nothing else: every other host is
 * unresolvable and anything not on 127.0.0.1 goes to a dead proxy. Answers its stdout (the DOM
 * with --dump-dom); throws when Chromium fails.
 */
export function browse(chromium: string, dir: string, url: string, args: string[]): string {
  const r = spawnSync(
    chromium,
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
      url,
    ],
    { encoding: 'utf8', timeout: 120_000, maxBuffer: 64 * 1024 * 1024 },
  );
  if (r.status !== 0) throw new Error(`chromium failed (${String(r.status)}): ${r.stderr}`);
  return r.stdout;
}

/** Pixels of an 8-bit RGB(A) PNG, unfiltered: enough to tell a blank page from a rendered one. */
export function distinctColours(png: Buffer): number {
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

/** One page of a headless Chromium driven over the DevTools protocol. */
export interface DevtoolsPage {
  /** Sends a protocol command and answers its result. */
  send(method: string, params?: Record<string, unknown>): Promise<Record<string, unknown>>;
  /** Evaluates an expression in the page and answers its value. */
  evaluate(expression: string): Promise<unknown>;
  close(): Promise<void>;
}

/**
 * Headless Chromium with the same network limits as browse(), on an empty page the caller drives
 * over the DevTools protocol: for what command-line flags cannot do, such as sending a header
 * with every request.
 */
export async function openPage(chromium: string, dir: string, port: number): Promise<DevtoolsPage> {
  const child = spawn(
    chromium,
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
      `--remote-debugging-port=${String(port)}`,
      'about:blank',
    ],
    { stdio: 'ignore' },
  );
  const exited = new Promise((r) => child.once('exit', r));
  const stop = async () => {
    child.kill('SIGKILL');
    await exited;
  };
  try {
    let target: { type: string; webSocketDebuggerUrl: string } | undefined;
    const end = Date.now() + 30_000;
    while (!target && Date.now() < end) {
      try {
        const list = (await (await fetch(`http://127.0.0.1:${String(port)}/json/list`)).json()) as {
          type: string;
          webSocketDebuggerUrl: string;
        }[];
        target = list.find((t) => t.type === 'page');
      } catch {
        // not listening yet
      }
      if (!target) await new Promise((r) => setTimeout(r, 100));
    }
    if (!target) throw new Error('chromium did not open its DevTools port');
    const ws = new WebSocket(target.webSocketDebuggerUrl);
    await new Promise((resolve, reject) => {
      ws.onopen = resolve;
      ws.onerror = () => {
        reject(new Error('could not connect to chromium'));
      };
    });
    let next = 0;
    const pending = new Map<
      number,
      (m: { result?: object; error?: { message: string } }) => void
    >();
    ws.onmessage = (ev: MessageEvent) => {
      const m = JSON.parse(String(ev.data)) as {
        id?: number;
        result?: object;
        error?: { message: string };
      };
      if (m.id !== undefined) pending.get(m.id)?.(m);
    };
    const send = (method: string, params: Record<string, unknown> = {}) =>
      new Promise<Record<string, unknown>>((resolve, reject) => {
        const id = ++next;
        pending.set(id, (m) => {
          pending.delete(id);
          if (m.error) reject(new Error(`${method}: ${m.error.message}`));
          else resolve((m.result ?? {}) as Record<string, unknown>);
        });
        ws.send(JSON.stringify({ id, method, params }));
      });
    return {
      send,
      async evaluate(expression) {
        const r = (await send('Runtime.evaluate', { expression, returnByValue: true })) as {
          result?: { value?: unknown };
        };
        return r.result?.value;
      },
      async close() {
        ws.close();
        await stop();
      },
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
