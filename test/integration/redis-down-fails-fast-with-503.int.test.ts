import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { freePort, type RedisServer, startRedisServer } from '../../src/redis/index.ts';
import { call, eventually, type Stack, startStack, timed } from '../helpers/stack.ts';

let dir: string;
let queue: RedisServer;
let data: RedisServer;
let s: Stack;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kvq-outage-'));
  queue = await startRedisServer({ dir: join(dir, 'q'), appendonly: false });
  data = await startRedisServer({ dir: join(dir, 'd'), appendonly: false });
  s = await startStack({ queueUrl: queue.url, kvUrl: data.url });
  await call(s.url, 'PUT', '/v1/keys/k', { body: { value: 1 }, headers: { Prefer: 'wait=5' } });
});
afterAll(async () => {
  await s.stop();
  await Promise.all([queue.stop(), data.stop()]);
  rmSync(dir, { recursive: true, force: true });
});

describe('a Redis outage answers 503 + Retry-After within 2 s, never hangs', () => {
  it('data Redis down: reads 503, /readyz names it; back up: reads work again', async () => {
    await data.stop();
    const [g, ms] = await timed(() => call(s.url, 'GET', '/v1/keys/k'));
    expect(g.status).toBe(503);
    expect(g.body.code).toBe('DATA_UNAVAILABLE');
    expect(g.headers.get('retry-after')).toBe('1');
    expect(ms).toBeLessThan(2000);
    const l = await call(s.url, 'GET', '/v1/keys');
    expect(l.status).toBe(503);
    const [ready, rms] = await timed(() => call(s.url, 'GET', '/readyz'));
    expect(ready.status).toBe(503);
    expect(ready.body.checks).toMatchObject({ queueRedis: 'up', dataRedis: 'down' });
    expect(rms).toBeLessThan(2000);
    // Writes are still accepted (the queue Redis is up); the worker applies them later.
    const w = await call(s.url, 'PUT', '/v1/keys/k', { body: { value: 2 } });
    expect(w.status).toBe(202);

    data = await data.restart();
    const op = await call(s.url, 'GET', `/v1/ops/${w.body.op.id}`, {
      headers: { Prefer: 'wait=20' },
    });
    expect(op.body.op.status).toBe('applied');
    const back = await call(s.url, 'GET', '/v1/keys/k');
    expect(back.status).toBe(200);
  }, 40_000);

  it('queue Redis down: writes 503 fast, reads keep working', async () => {
    await queue.stop();
    const [w, ms] = await timed(() => call(s.url, 'PUT', '/v1/keys/k', { body: { value: 3 } }));
    expect(w.status).toBe(503);
    expect(w.body.code).toBe('QUEUE_UNAVAILABLE');
    expect(w.headers.get('retry-after')).toBe('1');
    expect(ms).toBeLessThan(2000);
    const [d, dms] = await timed(() => call(s.url, 'DELETE', '/v1/keys/k'));
    expect(d.status).toBe(503);
    expect(dms).toBeLessThan(2000);
    const [op, oms] = await timed(() => call(s.url, 'GET', `/v1/ops/${s.layout.newOpId('k')}`));
    expect(op.status).toBe(503);
    expect(oms).toBeLessThan(2000);
    const g = await call(s.url, 'GET', '/v1/keys/k');
    expect(g.status).toBe(200);
    const ready = await call(s.url, 'GET', '/readyz');
    expect(ready.status).toBe(503);
    expect(ready.body.checks).toMatchObject({ queueRedis: 'down', dataRedis: 'up' });
    queue = await queue.restart();
  }, 40_000);
});

describe('starting before the Redis it needs', () => {
  // MAX_BACKLOG=0 skips the backlog check, which otherwise meets the missing queue first.
  it.each([
    ['with a backlog limit', {}],
    ['without one (MAX_BACKLOG=0)', { MAX_BACKLOG: '0' }],
  ])(
    'an API started while the queue Redis is down answers 503, then works once it is up (%s)',
    async (_name, env: Record<string, string>) => {
      const port = await freePort();
      const late = mkdtempSync(join(tmpdir(), 'kvq-late-'));
      const p = await startStack({
        worker: false,
        queueUrl: `redis://127.0.0.1:${String(port)}`,
        kvUrl: data.url,
        env,
      });
      let q: RedisServer | undefined;
      try {
        const before = await call(p.url, 'PUT', '/v1/keys/late', { body: { value: 1 } });
        expect(before.status).toBe(503);
        expect(before.body.code).toBe('QUEUE_UNAVAILABLE');
        q = await startRedisServer({ dir: late, port, appendonly: false });
        const ok = await eventually(
          async () =>
            (await call(p.url, 'PUT', '/v1/keys/late', { body: { value: 1 } })).status === 202,
          10_000,
          100,
        );
        expect(ok).toBe(true);
      } finally {
        await p.stop();
        await q?.stop();
        rmSync(late, { recursive: true, force: true });
      }
    },
    30_000,
  );
});
