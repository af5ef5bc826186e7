/**
 * What every bench phase shares: launching kvq and the baselines as processes (as in their pods),
 * driving HTTP load, and reading CPU from /proc/stat and from Redis's INFO.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import autocannon from 'autocannon';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';

import type { KeyLayout } from '../src/core/index.ts';

export const root = fileURLToPath(new URL('../', import.meta.url));

/**
 * Node flags for kvq's processes: as in their pods. That is the image's `ENV NODE_OPTIONS=` (from
 * the Dockerfile) plus the old-space size Node picks by itself under the Deployments' memory limit,
 * which a host without that limit does not get. Measured in a 512Mi memory cgroup: Node 24 sets a
 * heap limit of 259 MB (304 MB with the image's semi-space option), the same as
 * `--max-old-space-size=256` gives outside one. KVQ_NODE_OPTIONS overrides it all ('' = Node's
 * defaults on the host).
 */
const OLD_SPACE_MB_FOR_LIMIT: Record<string, number> = { '512Mi': 256 };
function podNodeOptions(): string {
  const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');
  const image = /^ENV NODE_OPTIONS="([^"]*)"/m.exec(dockerfile);
  if (!image) throw new Error('the Dockerfile sets no NODE_OPTIONS: say what the bench should use');
  const limits = ['api', 'worker'].map((role) => {
    const manifest = readFileSync(join(root, `k8s/base/${role}.yaml`), 'utf8');
    return /limits:\s*\n\s*memory:\s*(\S+)/.exec(manifest)?.[1] ?? '';
  });
  const oldSpace = limits.map((l) => OLD_SPACE_MB_FOR_LIMIT[l]);
  if (oldSpace[0] === undefined || oldSpace[0] !== oldSpace[1]) {
    throw new Error(
      `memory limits ${limits.join(' / ')} (api / worker): check the old space Node picks under them (see OLD_SPACE_MB_FOR_LIMIT)`,
    );
  }
  return `${image[1] ?? ''} --max-old-space-size=${String(oldSpace[0])}`.trim();
}
export const KVQ_NODE_OPTIONS = process.env.KVQ_NODE_OPTIONS ?? podNodeOptions();

const started: ChildProcess[] = [];

/** Starts `script` (kvq's build under dist/, or a baseline) and resolves once it says it is up. */
export function launch(
  script: string,
  args: string[],
  env: Record<string, string>,
): Promise<ChildProcess> {
  const kvqProcess = script.startsWith('dist/');
  const child = spawn(process.execPath, [join(root, script), ...args], {
    env: {
      ...process.env,
      LOG_LEVEL: 'info',
      WORKER_HEALTH_PORT: '0',
      ...(kvqProcess && KVQ_NODE_OPTIONS ? { NODE_OPTIONS: KVQ_NODE_OPTIONS } : {}),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  started.push(child);
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`${script} did not start`)), 20_000);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (/ready\n|api listening|worker started/.test(out)) {
        clearTimeout(timer);
        resolve(child);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${script} exited ${String(code)}`));
    });
  });
}

export async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

/** Stops every process launch() started (by the child handles it kept). */
export async function stopAll(): Promise<void> {
  for (const c of started) await stop(c).catch(() => undefined);
}

export function rssMb(child: ChildProcess): number {
  const status = readFileSync(`/proc/${String(child.pid)}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

export interface HttpResult {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
}

/** The mean of two runs of one side (latencies rounded to 0.1 ms, error counts summed). */
export function meanHttp(x: HttpResult, y: HttpResult): HttpResult {
  return {
    rps: (x.rps + y.rps) / 2,
    p50: Math.round(((x.p50 + y.p50) / 2) * 10) / 10,
    p99: Math.round(((x.p99 + y.p99) / 2) * 10) / 10,
    errors: x.errors + y.errors,
    non2xx: x.non2xx + y.non2xx,
  };
}

/**
 * Runs a, b, b, a and averages each side with `mean`, after one unmeasured warm-up run of each
 * (both servers' JIT sees load before anything counts).
 */
export async function abba<T>(
  a: () => Promise<T>,
  b: () => Promise<T>,
  mean: (x: T, y: T) => T,
): Promise<[T, T]> {
  await a();
  await b();
  const a1 = await a();
  const b1 = await b();
  const b2 = await b();
  const a2 = await a();
  return [mean(a1, a2), mean(b1, b2)];
}

export const WRK =
  process.env.BENCH_LOAD !== 'autocannon' && spawnSync('sh', ['-c', 'command -v wrk']).status === 0;

/**
 * Drives HTTP load at `url` with paths `${prefix}${i % keys}`, `connections` at a time for
 * `seconds`: wrk when installed (C, so the load generator takes less of the cores from the servers
 * under test), else autocannon. `dir` holds wrk's scripts.
 */
export async function load(
  url: string,
  opts: {
    method: 'GET' | 'PUT';
    prefix: string;
    keys: number;
    body?: string;
    /** Sent with every request (e.g. Authorization). */
    headers?: Record<string, string>;
    dir: string;
    connections: number;
    seconds: number;
  },
): Promise<HttpResult> {
  const headers = opts.headers ?? {};
  if (WRK) {
    const script = join(opts.dir, `wrk-${opts.method}.lua`);
    writeFileSync(
      script,
      [
        'local n = 0',
        `wrk.method = "${opts.method}"`,
        opts.body === undefined ? '' : `wrk.body = '${opts.body}'`,
        opts.body === undefined ? '' : 'wrk.headers["Content-Type"] = "application/json"',
        ...Object.entries(headers).map(([k, v]) => `wrk.headers["${k}"] = "${v}"`),
        `request = function() n = n + 1; return wrk.format(nil, "${opts.prefix}" .. (n % ${String(opts.keys)})) end`,
      ].join('\n'),
    );
    const out = execFileSync(
      'wrk',
      [
        '-t1',
        `-c${String(opts.connections)}`,
        `-d${String(opts.seconds)}s`,
        '--latency',
        '-s',
        script,
        url,
      ],
      { encoding: 'utf8' },
    );
    const ms = (label: string) => {
      const m = new RegExp(`${label}%\\s+([\\d.]+)(us|ms|s)`).exec(out);
      if (!m) return NaN;
      const v = Number(m[1]);
      return m[2] === 'us' ? v / 1000 : m[2] === 's' ? v * 1000 : v;
    };
    return {
      rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0),
      p50: Math.round(ms('50') * 10) / 10,
      p99: Math.round(ms('99') * 10) / 10,
      errors: Number(/Socket errors:.*?timeout (\d+)/.exec(out)?.[1] ?? 0),
      non2xx: Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0),
    };
  }
  let n = 0;
  const r = await autocannon({
    url,
    connections: opts.connections,
    duration: opts.seconds,
    requests: [
      {
        method: opts.method,
        headers: {
          ...headers,
          ...(opts.body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(opts.body === undefined ? {} : { body: opts.body }),
        setupRequest: (req) => ({ ...req, path: `${opts.prefix}${String(n++ % opts.keys)}` }),
      },
    ],
  });
  return {
    rps: r.requests.average,
    p50: r.latency.p50,
    p99: r.latency.p99,
    errors: r.errors + r.timeouts,
    non2xx: r.non2xx,
  };
}

/** Jiffies per state from the first line of /proc/stat. */
export function cpuTimes(): number[] {
  return readFileSync('/proc/stat', 'utf8')
    .split('\n')[0]!
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
}

/** Busy share of all cores between two readings of /proc/stat (idle + iowait count as idle). */
export function busyPercent(before: number[], after: number[]): number {
  const d = after.map((x, i) => x - (before[i] ?? 0));
  const total = d.reduce((x, y) => x + y, 0);
  return total > 0 ? (100 * (total - (d[3] ?? 0) - (d[4] ?? 0))) / total : NaN;
}

/** CPU seconds a redis-server has used so far (used_cpu_sys + used_cpu_user from INFO cpu). */
export async function redisCpuSeconds(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  const field = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1]);
  const s = field('used_cpu_sys') + field('used_cpu_user');
  if (!Number.isFinite(s)) throw new Error('INFO cpu has no used_cpu_sys / used_cpu_user');
  return s;
}

/** Jobs not yet finished (waiting, active, prioritized, delayed) over every partition's queue. */
export function partitionQueues(layout: KeyLayout, url: string) {
  const queues = Array.from(
    { length: layout.count },
    // skipMetasUpdate: an observer must not reset the queue's settings (EVENT_STREAM_MAX_LEN).
    (_, i) => new Queue(layout.queueName(i), { connection: { url }, skipMetasUpdate: true }),
  );
  return {
    async backlog(): Promise<number> {
      const counts = await Promise.all(
        queues.map((q) => q.getJobCounts('waiting', 'active', 'prioritized', 'delayed')),
      );
      return counts.reduce((n, c) => n + Object.values(c).reduce((a, b) => a + b, 0), 0);
    },
    async close(): Promise<void> {
      await Promise.all(queues.map((q) => q.close()));
    },
  };
}

/** Something whose unfinished jobs can be counted: kvq's partition queues, or one bare queue. */
export interface Backlog {
  backlog(): Promise<number>;
}

export function singleQueue(queue: Queue): Backlog {
  return {
    async backlog() {
      const c = await queue.getJobCounts('waiting', 'active', 'prioritized', 'delayed');
      return Object.values(c).reduce((a, b) => a + b, 0);
    },
  };
}

/**
 * Applied ops/s while a backlog of `jobs` drains, measured between 10 % and 90 % done, polled every
 * `pollMs`; with `redis`, also the CPU each redis-server used over the whole drain (from the
 * workers' start to an empty backlog).
 */
export async function drainRate(
  source: Backlog,
  jobs: number,
  startWorkers: () => Promise<ChildProcess[]>,
  opts: { pollMs?: number; redis?: { queue: Redis; data: Redis } } = {},
) {
  const cpuRedis0 = opts.redis
    ? await Promise.all([redisCpuSeconds(opts.redis.queue), redisCpuSeconds(opts.redis.data)])
    : undefined;
  const workers = await startWorkers();
  const cpu0 = cpuTimes();
  const marks: [number, number][] = [];
  const deadline = Date.now() + 120_000;
  for (;;) {
    const left = await source.backlog();
    marks.push([performance.now(), jobs - left]);
    if (left === 0 || Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, opts.pollMs ?? 50));
  }
  const cpuRedis1 = opts.redis
    ? await Promise.all([redisCpuSeconds(opts.redis.queue), redisCpuSeconds(opts.redis.data)])
    : undefined;
  const at = (frac: number) =>
    marks.find(([, done]) => done >= jobs * frac) ?? marks.at(-1) ?? [0, 0];
  const [t1, d1] = at(0.1);
  const [t2, d2] = at(0.9);
  const busy = busyPercent(cpu0, cpuTimes());
  const rss = workers.map(rssMb);
  await Promise.all(workers.map(stop));
  const done = marks.at(-1)?.[1] ?? 0;
  return {
    opsPerSec: ((d2 - d1) / (t2 - t1)) * 1000,
    workerRssMb: Math.max(...rss),
    busy,
    /** Jobs that finished; with their Redis CPU (s) over the drain when `redis` was given. */
    done,
    redisCpu:
      cpuRedis0 && cpuRedis1
        ? {
            queue: cpuRedis1[0] - cpuRedis0[0],
            data: cpuRedis1[1] - cpuRedis0[1],
          }
        : undefined,
  };
}
