import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

import { startApi } from '../../src/bin/api.ts';
import { startMetrics } from '../../src/bin/metrics.ts';
import { startWorker } from '../../src/bin/worker.ts';
import { createLifecycle, createLogger, type Lifecycle, loadConfig } from '../../src/core/index.ts';
import { call, eventually } from '../helpers/stack.ts';

/**
 * Known traffic through both transports — the raw fast lane (plain `GET`/`PUT /v1/keys/{key}`)
 * and Hono (everything else; a trailing "?" sends a key request there) — gives exact counter
 * values on a scrape of the metrics listener (METRICS_PORT), with the key routes labelled by
 * their template on both. The in-process worker feeds the same registry (as in `kvq dev`).
 */
const PUTS = 3;
let lifecycle: Lifecycle;
let api: string;
let metricsUrl: string;

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const a = srv.address();
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  if (typeof a !== 'object' || !a) throw new Error('no port');
  return a.port;
}

beforeAll(async () => {
  const id = randomBytes(4).toString('hex');
  const config = loadConfig({
    QUEUE_REDIS_URL: inject('queueRedisUrl'),
    KV_REDIS_URL: inject('kvRedisUrl'),
    HOST: '127.0.0.1',
    PORT: '0',
    METRICS_PORT: String(await freePort()),
    WORKER_HEALTH_PORT: '0',
    WORKER_CONCURRENCY: '4',
    KEY_PREFIX: `mx${id}:`,
    QUEUE_NAME: `mx${id}`,
    LOG_LEVEL: 'silent',
  });
  const logger = createLogger(config.LOG_LEVEL, 'test');
  lifecycle = createLifecycle({ deadlineMs: 10_000, logger });
  const { metrics, port } = await startMetrics(config, 'dev', logger, lifecycle);
  metricsUrl = `http://127.0.0.1:${String(port)}/metrics`;
  const urls = { queueUrl: config.QUEUE_REDIS_URL ?? '', kvUrl: config.KV_REDIS_URL ?? '' };
  await startWorker(config, urls, logger, lifecycle, metrics);
  api = (await startApi(config, urls, logger, lifecycle, metrics)).url;
});
afterAll(async () => {
  await lifecycle.shutdown('test done');
});

/** Samples of a scrape, keyed `name{a="x",b="y"}` with labels sorted by name. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels = [...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)]
      .map(([, k, v]) => `${k ?? ''}="${v ?? ''}"`)
      .sort();
    out.set(`${m[1] ?? ''}{${labels.join(',')}}`, Number(m[3]));
  }
  return out;
}
const key = (name: string, labels: Record<string, string> = {}) =>
  `${name}{${Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .sort()
    .join(',')}}`;
interface Scrape {
  text: string;
  at: (name: string, labels?: Record<string, string>) => number | undefined;
}
/** Scrapes until `ready` holds (a raw-lane answer is counted once its response has closed). */
async function scrapeWhen(ready: (s: Scrape) => boolean): Promise<Scrape> {
  let last: Scrape | undefined;
  await eventually(async () => {
    last = await scrape();
    return ready(last);
  });
  if (!last) throw new Error('no scrape');
  return last;
}
async function scrape(): Promise<Scrape> {
  const res = await fetch(metricsUrl);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  const all = samples(text);
  return { text, at: (n, l) => all.get(key(n, l)) };
}

describe('metrics after known traffic', () => {
  const route = '/v1/keys/{key}';
  const json = { 'Content-Type': 'application/json' };
  const wait = { ...json, Prefer: 'wait=10' };
  const statuses: Record<string, number> = {};
  const answered = (method: string, r: string, status: number) => {
    const k = `${method} ${r} ${String(status)}`;
    statuses[k] = (statuses[k] ?? 0) + 1;
  };

  beforeAll(async () => {
    // Raw lane: N plain PUTs (each waits for its apply), a GET of one, a GET of a missing key.
    for (let i = 0; i < PUTS; i++) {
      const r = await call(api, 'PUT', `/v1/keys/m${String(i)}`, {
        body: { value: i },
        headers: wait,
      });
      expect(r.status).toBe(201);
      answered('PUT', route, r.status);
    }
    const got = await call(api, 'GET', '/v1/keys/m0');
    expect(got.status).toBe(200);
    answered('GET', route, 200);
    const missing = await call(api, 'GET', '/v1/keys/never-written');
    expect(missing.status).toBe(404);
    answered('GET', route, 404);
    // Raw lane: a conditional PUT whose condition fails.
    const raw412 = await call(api, 'PUT', '/v1/keys/m0', {
      body: { value: 'x' },
      headers: { ...json, 'If-Match': '"99"' },
    });
    expect(raw412.status).toBe(412);
    answered('PUT', route, 412);

    // Hono: the same key route with a trailing "?", a conditional PUT, a create, a delete, a
    // health check and an unknown path.
    const honoGet = await call(api, 'GET', '/v1/keys/m1?');
    expect(honoGet.status).toBe(200);
    answered('GET', route, 200);
    const hono412 = await call(api, 'PUT', '/v1/keys/m1?', {
      body: { value: 'x' },
      headers: { ...json, 'If-Match': '"99"' },
    });
    expect(hono412.status).toBe(412);
    answered('PUT', route, 412);
    const created = await call(api, 'POST', '/v1/keys', {
      body: { key: 'made', value: 1 },
      headers: wait,
    });
    expect(created.status).toBe(201);
    answered('POST', '/v1/keys', 201);
    const deleted = await call(api, 'DELETE', '/v1/keys/m2', { headers: { Prefer: 'wait=10' } });
    expect(deleted.status).toBe(204);
    answered('DELETE', route, 204);
    const health = await call(api, 'GET', '/healthz');
    expect(health.status).toBe(200);
    answered('GET', '/healthz', 200);
    for (const path of ['/nope', '/nope/deeper/still']) {
      const unknown = await call(api, 'GET', path);
      expect(unknown.status).toBe(404);
      answered('GET', 'unmatched', 404);
    }
  });

  it('counts every request once, by method, route template and status, on both lanes', async () => {
    // A raw-lane answer is counted when its response closes: wait for the last one.
    const expected = Object.entries(statuses).map(([k, n]) => {
      const [method = '', r = '', status = ''] = k.split(' ');
      return { k, n, labels: { method, route: r, status } };
    });
    const { at, text } = await scrapeWhen((s) =>
      expected.every(({ n, labels }) => s.at('kvq_http_requests_total', labels) === n),
    );
    for (const { k, n, labels } of expected) {
      expect(at('kvq_http_requests_total', labels), k).toBe(n);
      expect(at('kvq_http_request_duration_seconds_count', labels), k).toBe(n);
    }
    // The same PUT route from both lanes is one series; raw paths never become labels.
    expect(at('kvq_http_requests_total', { method: 'PUT', route, status: '412' })).toBe(2);
    expect(at('kvq_http_requests_total', { method: 'GET', route, status: '200' })).toBe(2);
    expect(text).not.toMatch(/route="\/v1\/keys\/m\d/);
    expect(text).not.toMatch(/route="\/nope/);
    const httpSeries = text.split('\n').filter((l) => l.startsWith('kvq_http_requests_total{'));
    expect(httpSeries).toHaveLength(Object.keys(statuses).length);
  });

  it('counts ops accepted by type and the worker’s applies, with their lag', async () => {
    const { at } = await scrape();
    expect(at('kvq_ops_accepted_total', { type: 'put' })).toBe(PUTS);
    expect(at('kvq_ops_accepted_total', { type: 'create' })).toBe(1);
    expect(at('kvq_ops_accepted_total', { type: 'delete' })).toBe(1);
    // Every write above waited for its apply (Prefer: wait), so all are applied by now.
    const applies = PUTS + 2;
    expect(at('kvq_ops_finished_total', { outcome: 'applied', code: '' })).toBe(applies);
    expect(at('kvq_op_apply_lag_seconds_count')).toBe(applies);
    expect(at('kvq_job_duration_seconds_count')).toBeGreaterThanOrEqual(applies);
    expect(at('kvq_worker_jobs_active')).toBe(0);
    expect(at('kvq_worker_concurrency')).toBeGreaterThanOrEqual(4);
  });

  it('reports both Redis, the build and the process defaults', async () => {
    const { at } = await scrapeWhen((s) => s.at('kvq_redis_up', { redis: 'data' }) === 1);
    for (const redis of ['queue', 'data']) {
      expect(at('kvq_redis_up', { redis })).toBe(1);
      expect(at('kvq_redis_memory_used_bytes', { redis })).toBeGreaterThan(0);
      expect(at('kvq_redis_maxmemory_bytes', { redis })).toBeGreaterThanOrEqual(0);
      expect(at('kvq_redis_ping_seconds', { redis })).toBeGreaterThan(0);
    }
    const pkg = JSON.parse(
      readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
    ) as {
      version: string;
    };
    expect(
      at('kvq_build_info', {
        version: pkg.version,
        node_version: process.versions.node,
        role: 'dev',
      }),
    ).toBe(1);
    expect(at('process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(at('nodejs_heap_size_used_bytes')).toBeGreaterThan(0);
  });

  it('serves only GET /metrics on that port', async () => {
    expect((await fetch(metricsUrl.replace('/metrics', '/'))).status).toBe(404);
    expect((await fetch(metricsUrl, { method: 'POST' })).status).toBe(404);
  });

  const promtool = spawnSync('promtool', ['--version']).status === 0;
  if (!promtool) {
    console.warn('promtool not installed (Debian: apt-get install prometheus): lint skipped');
  }
  it.skipIf(!promtool)('passes `promtool check metrics` on a real scrape', async () => {
    const { text } = await scrape();
    const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(`${r.stdout}${r.stderr}`).toBe('');
    expect(r.status).toBe(0);
  });
});
