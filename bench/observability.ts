/**
 * `npm run bench -- --observability`: what metrics (and auth) cost the API on reads and on
 * accepted writes. Three kvq API processes, from the build, on the same two Redis:
 *
 * - off: METRICS_PORT=0 (no registry, nothing measured) and no auth;
 * - metrics: METRICS_PORT set, its /metrics scraped every SCRAPE_MS by the bench;
 * - metrics + auth: the same, with AUTH=keys and a `write` API key made in the data Redis (as
 *   `kvq keys create` makes it), which the load sends as its bearer. BENCH_AUTH_ENV (extra
 *   environment of that API) and BENCH_AUTH_TOKEN (the bearer) replace both, e.g.
 *   `API_TOKENS=t` / `t` for the deprecated tokens. BENCH_AUTH=off leaves this configuration out.
 *
 * Each pair (off vs one of the others) is loaded A-B-B-A and averaged, as in run.ts, through both
 * lanes: plain `GET`/`PUT /v1/keys/{key}` take the raw fast lane. Writes are accepted with no
 * worker running (the acceptance cost alone); the queue Redis is emptied after each write run.
 */
import { type ChildProcess, execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { Redis } from 'ioredis';

import { apiKeyKeys, loadConfig } from '../src/core/index.ts';
import { createMetrics } from '../src/metrics/index.ts';
import { freePort, startRedisServer } from '../src/redis/index.ts';
import { createApiKeyStore, newApiKey } from '../src/store/index.ts';
import { abba, type HttpResult, launch, load, meanHttp, stop } from './harness.ts';

const SCRAPE_MS = 5000;

interface Api {
  name: string;
  url: string;
  headers: Record<string, string>;
  child: ChildProcess;
  metricsUrl?: string;
}

/** A load run, and the API process' CPU time per request answered in it. */
type Run = HttpResult & { cpuUsPerRequest: number };

export interface CostRow {
  workload: string;
  off: Run;
  on: Run;
}

const TICKS_PER_SECOND = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

/** CPU seconds (user + system) a process has used, from /proc/PID/stat. */
function cpuSeconds(pid: number | undefined): number {
  const stat = readFileSync(`/proc/${String(pid)}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

export async function compareObservabilityCost(opts: {
  dir: string;
  seconds: number;
  connections: number;
  log: (line: string) => void;
}): Promise<{ rows: CostRow[]; auth: string }> {
  const [queueRedis, dataRedis] = await Promise.all([
    startRedisServer({ dir: join(opts.dir, 'oq'), appendonly: false, noeviction: true }),
    startRedisServer({ dir: join(opts.dir, 'od'), appendonly: false }),
  ]);
  const qr = new Redis(queueRedis.url);
  qr.on('error', () => undefined);
  const env = {
    QUEUE_REDIS_URL: queueRedis.url,
    KV_REDIS_URL: dataRedis.url,
    HOST: '127.0.0.1',
    MAX_BACKLOG: '0',
  };
  let token = process.env.BENCH_AUTH_TOKEN ?? '';
  let authEnv: Record<string, string>;
  if (process.env.BENCH_AUTH_ENV !== undefined) {
    authEnv = parseEnv(process.env.BENCH_AUTH_ENV);
  } else {
    // A real API key, stored as `kvq keys create` stores it.
    const kr = new Redis(dataRedis.url);
    const made = newApiKey({ name: 'bench', scope: 'write', now: Date.now() });
    await createApiKeyStore({ redis: kr, keys: apiKeyKeys(loadConfig({}).KEY_PREFIX) }).create(
      made.key,
    );
    kr.disconnect();
    token = made.secret;
    authEnv = { AUTH: 'keys' };
  }
  const withAuth = process.env.BENCH_AUTH !== 'off';
  const apis: Api[] = [];
  let scraper: NodeJS.Timeout | undefined;
  try {
    const start = async (name: string, extra: Record<string, string>, metrics: boolean) => {
      const [port, metricsPort] = [await freePort(), await freePort()];
      const child = await launch('dist/bin/kvq.js', ['api'], {
        ...env,
        ...extra,
        PORT: String(port),
        METRICS_PORT: metrics ? String(metricsPort) : '0',
      });
      const api: Api = {
        name,
        url: `http://127.0.0.1:${String(port)}`,
        headers:
          'API_TOKENS' in extra || 'AUTH' in extra ? { Authorization: `Bearer ${token}` } : {},
        child,
        ...(metrics ? { metricsUrl: `http://127.0.0.1:${String(metricsPort)}/metrics` } : {}),
      };
      apis.push(api);
      return api;
    };
    const off = await start('off', {}, false);
    const metrics = await start('metrics', {}, true);
    const auth = withAuth ? await start('metrics + auth', authEnv, true) : undefined;
    scraper = setInterval(() => {
      for (const a of apis) {
        if (a.metricsUrl)
          void fetch(a.metricsUrl).then(
            (r) => r.text(),
            () => undefined,
          );
      }
    }, SCRAPE_MS);

    // 1,000 keys to read, written through kvq and applied by a worker that then stops.
    const worker = await launch('dist/bin/kvq.js', ['worker'], env);
    const value = JSON.stringify({ name: 'bench', n: 42, tags: ['a', 'b'] });
    for (let i = 0; i < 1000; i += 100) {
      await Promise.all(
        Array.from({ length: 100 }, (_, j) =>
          fetch(`${off.url}/v1/keys/r${String(i + j)}`, {
            method: 'PUT',
            headers: { 'Content-Type': 'application/json', Prefer: 'wait=10' },
            body: `{"value":${value}}`,
          }).then((r) => r.body?.cancel()),
        ),
      );
    }
    await stop(worker);
    await qr.flushall();

    const base = { dir: opts.dir, connections: opts.connections, seconds: opts.seconds };
    // The API's CPU per request: unlike throughput, barely moved by other processes on the cores.
    const measured = async (a: Api, run: () => Promise<HttpResult>): Promise<Run> => {
      const cpu0 = cpuSeconds(a.child.pid);
      const r = await run();
      const cpu = cpuSeconds(a.child.pid) - cpu0;
      return { ...r, cpuUsPerRequest: (cpu * 1e6) / Math.max(1, r.rps * opts.seconds) };
    };
    const read = (a: Api) =>
      measured(a, () =>
        load(a.url, {
          ...base,
          method: 'GET',
          prefix: '/v1/keys/r',
          keys: 1000,
          headers: a.headers,
        }),
      );
    const body = `{"value":${value}}`;
    const write = async (a: Api) => {
      const r = await measured(a, () =>
        load(a.url, {
          ...base,
          method: 'PUT',
          prefix: '/v1/keys/w',
          keys: 5000,
          body,
          headers: a.headers,
        }),
      );
      await qr.flushall();
      return r;
    };
    const rows: CostRow[] = [];
    for (const on of [metrics, auth].filter((a): a is Api => a !== undefined)) {
      for (const [workload, run] of [
        ['reads: GET /v1/keys/{key}', read],
        ['accepted writes: PUT /v1/keys/{key} (202)', write],
      ] as const) {
        const [o, n] = await abba(
          () => run(off),
          () => run(on),
          meanRun,
        );
        opts.log(
          `${workload}, ${on.name}: off ${o.rps.toFixed(0)}/s, on ${n.rps.toFixed(0)}/s (${pct(o, n)}); ` +
            `CPU ${o.cpuUsPerRequest.toFixed(0)} vs ${n.cpuUsPerRequest.toFixed(0)} µs/request (${cpuPct(o, n)})`,
        );
        if (o.non2xx + n.non2xx > 0) {
          throw new Error(
            `${workload}, ${on.name}: ${String(o.non2xx + n.non2xx)} non-2xx answers`,
          );
        }
        rows.push({ workload: `${workload}, ${on.name} on`, off: o, on: n });
      }
    }
    return {
      rows,
      auth: withAuth ? Object.keys(authEnv).join(', ') : 'left out (BENCH_AUTH=off)',
    };
  } finally {
    clearInterval(scraper);
    for (const a of apis) await stop(a.child);
    qr.disconnect();
    await queueRedis.stop();
    await dataRedis.stop();
  }
}

/**
 * The metrics' own work, in this process, without HTTP: one request recorded (what every request
 * pays with metrics on) and one scrape rendered, in CPU time (process.cpuUsage), which other
 * processes on the machine do not stretch as they stretch wall-clock time; the median of 5 rounds.
 */
export async function metricsWork(): Promise<{ perRequestUs: number; perScrapeMs: number }> {
  const m = createMetrics({ version: 'bench', role: 'api' });
  const routes = ['/v1/keys/{key}', '/v1/keys', '/v1/ops/{id}', '/healthz'];
  const statuses = [200, 201, 202, 204, 304, 404, 409, 412];
  for (const r of routes) for (const st of statuses) m.observeRequest('GET', r, st, 0);
  const N = 200_000;
  const rounds: number[] = [];
  const cpuUs = (since: NodeJS.CpuUsage) => {
    const d = process.cpuUsage(since);
    return d.user + d.system;
  };
  for (let r = 0; r < 5; r++) {
    const t = performance.now();
    const c = process.cpuUsage();
    for (let i = 0; i < N; i++) m.observeRequest('GET', '/v1/keys/{key}', 200, t);
    rounds.push(cpuUs(c) / N);
  }
  const scrapes: number[] = [];
  for (let r = 0; r < 5; r++) {
    const c = process.cpuUsage();
    for (let i = 0; i < 10; i++) await m.registry.metrics();
    scrapes.push(cpuUs(c) / 10 / 1000);
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
  return { perRequestUs: median(rounds), perScrapeMs: median(scrapes) };
}

/** Throughput lost with it on, as a share of off's (negative: on was faster, i.e. noise). */
function pct(off: HttpResult, on: HttpResult): string {
  return `${((1 - on.rps / off.rps) * 100).toFixed(1)} %`;
}

/** The API's CPU per request added with it on, as a share of off's. */
function cpuPct(off: Run, on: Run): string {
  return `${((on.cpuUsPerRequest / off.cpuUsPerRequest - 1) * 100).toFixed(1)} %`;
}

export function costTable(rows: CostRow[]): string {
  return [
    '| workload | API CPU µs/request off | on | CPU cost | req/s off | on | throughput cost | p50 / p99 off (ms) | on | target |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
    ...rows.map(
      (r) =>
        `| ${r.workload} | ${r.off.cpuUsPerRequest.toFixed(0)} | ${r.on.cpuUsPerRequest.toFixed(0)} | ${cpuPct(r.off, r.on)} | ` +
        `${r.off.rps.toFixed(0)} | ${r.on.rps.toFixed(0)} | ${pct(r.off, r.on)} | ` +
        `${String(r.off.p50)} / ${String(r.off.p99)} | ${String(r.on.p50)} / ${String(r.on.p99)} | ≤ 5 % |`,
    ),
  ].join('\n');
}

/** `A=1 B=2` -> { A: '1', B: '2' }. */
function parseEnv(s: string): Record<string, string> {
  return Object.fromEntries(
    s
      .split(/\s+/)
      .filter(Boolean)
      .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
  );
}

/** The mean of two runs of one API: HTTP figures as the other benches, and CPU per request. */
const meanRun = (x: Run, y: Run): Run => ({
  ...meanHttp(x, y),
  cpuUsPerRequest: (x.cpuUsPerRequest + y.cpuUsPerRequest) / 2,
});
