import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';

import { freePort } from '../../src/redis/index.ts';
import { exitOf, output, spawnRole, stopChild } from '../helpers/processes.ts';
import { call, eventually, partitionQueues, type Stack, startStack } from '../helpers/stack.ts';

let s: Stack;
beforeAll(async () => {
  s = await startStack({ worker: false });
});
afterAll(async () => {
  await s.stop();
});

const env = () => ({
  QUEUE_REDIS_URL: s.queueUrl,
  KV_REDIS_URL: s.kvUrl,
  KEY_PREFIX: s.config.KEY_PREFIX,
  QUEUE_NAME: s.config.QUEUE_NAME,
  LOG_LEVEL: 'info',
  SHUTDOWN_TIMEOUT_MS: '10000',
});

async function receipts(redis: Redis, prefix: string): Promise<Record<string, string>[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `${prefix}{*}op:*`, 'COUNT', 1000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  const pipe = redis.pipeline();
  for (const k of keys) pipe.hgetall(k);
  return ((await pipe.exec()) ?? []).map(([, h]) => h as Record<string, string>);
}

it('a worker under load finishes its in-flight jobs on SIGTERM, exits 0, and leaves no op active', async () => {
  const N = 3000;
  for (let i = 0; i < N; i += 100) {
    await Promise.all(
      Array.from({ length: 100 }, (_, j) =>
        call(s.url, 'PUT', `/v1/keys/load/${String((i + j) % 50)}`, { body: { value: i + j } }),
      ),
    );
  }
  const w = spawnRole('worker', { ...env(), WORKER_CONCURRENCY: '64' });
  const out = output(w);
  const q = partitionQueues(s.layout, s.queueUrl);
  try {
    const busy = await eventually(async () => (await q.count('waiting')) < N - 300, 15_000, 20);
    expect(busy, out()).toBe(true);
    const t = Date.now();
    const exit = await stopChild(w, 'SIGTERM');
    expect(exit.code, out()).toBe(0);
    expect(Date.now() - t).toBeLessThan(10_000);
    expect(await q.count('active')).toBe(0);
    const all = await receipts(s.queueRedis, s.config.KEY_PREFIX);
    const active = all.filter((r) => r.status === 'active');
    expect(active).toEqual([]);
    const done = all.filter((r) => r.status === 'applied' || r.status === 'superseded').length;
    expect(done).toBeGreaterThan(0);
    expect(done).toBeLessThan(N);

    // A new worker picks up the rest.
    await s.startWorker();
    const drained = await eventually(
      async () => (await q.count('waiting', 'active')) === 0,
      30_000,
      100,
    );
    expect(drained).toBe(true);
  } finally {
    await q.close();
    await stopChild(w, 'SIGKILL');
  }
}, 60_000);

it('an API under load answers its in-flight requests on SIGTERM, refuses new writes, exits 0', async () => {
  const port = await freePort();
  // Its own queue name: no worker serves it, so `Prefer: wait=2` keeps each request in flight.
  const api = spawnRole('api', { ...env(), QUEUE_NAME: 'drain-no-worker', PORT: String(port) });
  const out = output(api);
  const base = `http://127.0.0.1:${String(port)}`;
  try {
    expect(await eventually(() => out().includes('api listening'), 15_000, 50), out()).toBe(true);
    const inflight = Array.from({ length: 20 }, (_, i) =>
      fetch(`${base}/v1/keys/drain/${String(i)}`, {
        method: 'PUT',
        headers: { 'Content-Type': 'application/json', Prefer: 'wait=2' },
        body: JSON.stringify({ value: i }),
      }).then(async (r) => ({
        status: r.status,
        body: (await r.json()) as { op?: { status: string } },
      })),
    );
    await new Promise((r) => setTimeout(r, 400));
    api.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 100));
    const late = await fetch(`${base}/v1/keys/late`, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/json' },
      body: '{"value":1}',
    }).then(
      (r) => r.status,
      () => 'refused',
    );
    expect([503, 'refused']).toContain(late);
    const results = await Promise.all(inflight);
    expect(results.map((r) => r.status)).toEqual(Array(20).fill(202));
    expect(results.every((r) => r.body.op?.status === 'queued')).toBe(true);
    const exit = await exitOf(api);
    expect(exit.code, out()).toBe(0);
    expect(out()).toContain('shutting down');
  } finally {
    await stopChild(api, 'SIGKILL');
  }
}, 30_000);
