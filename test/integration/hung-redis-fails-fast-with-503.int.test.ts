import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, expect, it } from 'vitest';

import { type RedisServer, startRedisServer } from '../../src/redis/index.ts';
import { call, type Stack, startStack, timed } from '../helpers/stack.ts';

/**
 * A Redis that keeps its connections open but stops answering (SIGSTOP: a hung process, or a
 * network black hole) must not hang requests: the stall watchdog fails them with 503 within
 * 1.25 × REDIS_COMMAND_TIMEOUT_MS, and everything works again once Redis answers.
 */
let dir: string;
let queue: RedisServer;
let data: RedisServer;
let s: Stack;
const TIMEOUT_MS = 400;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kvq-hung-'));
  queue = await startRedisServer({ dir: join(dir, 'q'), appendonly: false });
  data = await startRedisServer({ dir: join(dir, 'd'), appendonly: false });
  s = await startStack({
    queueUrl: queue.url,
    kvUrl: data.url,
    env: { REDIS_COMMAND_TIMEOUT_MS: String(TIMEOUT_MS) },
  });
  const w = await call(s.url, 'PUT', '/v1/keys/k', {
    body: { value: 1 },
    headers: { Prefer: 'wait=5' },
  });
  expect(w.status).toBe(201);
});
afterAll(async () => {
  for (const r of [queue, data]) r.child.kill('SIGCONT');
  await s.stop();
  await Promise.all([queue.stop(), data.stop()]);
  rmSync(dir, { recursive: true, force: true });
});

it('a hung data Redis: reads answer 503 + Retry-After in time, then work again', async () => {
  data.child.kill('SIGSTOP');
  try {
    const [g, ms] = await timed(() => call(s.url, 'GET', '/v1/keys/k'));
    expect(g.status).toBe(503);
    expect(g.body.code).toBe('DATA_UNAVAILABLE');
    expect(g.headers.get('retry-after')).toBe('1');
    expect(ms).toBeLessThan(TIMEOUT_MS * 1.25 + 500);
    // A second request on the same stuck connection fails in time too.
    const [g2, ms2] = await timed(() => call(s.url, 'GET', '/v1/keys/k'));
    expect(g2.status).toBe(503);
    expect(ms2).toBeLessThan(TIMEOUT_MS * 1.25 + 500);
  } finally {
    data.child.kill('SIGCONT');
  }
  const back = await call(s.url, 'GET', '/v1/keys/k');
  expect(back.status).toBe(200);
  expect(back.body).toMatchObject({ value: 1, version: 1 });
});

it('a hung queue Redis: writes answer 503 in time, and are accepted again afterwards', async () => {
  queue.child.kill('SIGSTOP');
  try {
    const [w, ms] = await timed(() => call(s.url, 'PUT', '/v1/keys/k', { body: { value: 2 } }));
    expect(w.status).toBe(503);
    expect(w.body.code).toBe('QUEUE_UNAVAILABLE');
    expect(ms).toBeLessThan(TIMEOUT_MS * 1.25 + 500);
  } finally {
    queue.child.kill('SIGCONT');
  }
  const ok = await call(s.url, 'PUT', '/v1/keys/k', {
    body: { value: 3 },
    headers: { Prefer: 'wait=5' },
  });
  expect(ok.status).toBe(200);
  const g = await call(s.url, 'GET', '/v1/keys/k');
  expect(g.body.value).toBe(3);
});
