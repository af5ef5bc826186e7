import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';

import { type RedisServer, startRedisServer } from '../../src/redis/index.ts';
import { call, eventually, type Stack, startStack } from '../helpers/stack.ts';

/**
 * A conditional write whose acceptance times out on a stalled queue Redis is answered 503; when
 * Redis resumes it runs what was sent. Acceptance and the job are sent together, so either both
 * run (the op is applied) or neither: no receipt is left without a job, holding the key "busy"
 * until the orphan reconciler gives up on it.
 */
let dir: string;
let queue: RedisServer;
let data: RedisServer;
let s: Stack;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kvq-503-'));
  queue = await startRedisServer({ dir: join(dir, 'q'), appendonly: false });
  data = await startRedisServer({ dir: join(dir, 'd'), appendonly: false });
  s = await startStack({ queueUrl: queue.url, kvUrl: data.url, env: { KEY_BUSY_WAIT_MS: '500' } });
});
afterAll(async () => {
  queue.child.kill('SIGCONT');
  await s.stop();
  await Promise.all([queue.stop(), data.stop()]);
  rmSync(dir, { recursive: true, force: true });
});

it('a conditional write that timed out in a stalled queue Redis does not leave the key busy', async () => {
  const seed = await call(s.url, 'PUT', '/v1/keys/k', {
    body: { value: 1 },
    headers: { Prefer: 'wait=5' },
  });
  expect(seed.status).toBe(201);
  // Hold the data Redis busy for a second so that the write's decision is under way when the
  // queue Redis stops; its acceptance then waits in the stopped server's buffers.
  const busy = new Redis(data.url);
  const spin =
    "local t=redis.call('TIME'); local s=t[1]*1000000+t[2]; while true do " +
    "local n=redis.call('TIME'); if n[1]*1000000+n[2]-s > 1000000 then break end end return 1";
  const blocking = busy.eval(spin, 0);
  await new Promise((r) => setTimeout(r, 50));
  const write = call(s.url, 'PUT', '/v1/keys/k', {
    body: { value: 2 },
    headers: { 'If-Match': '"1"' },
  });
  await new Promise((r) => setTimeout(r, 300));
  queue.child.kill('SIGSTOP');
  let answer: Awaited<typeof write>;
  try {
    answer = await write;
    await new Promise((r) => setTimeout(r, 2500));
  } finally {
    queue.child.kill('SIGCONT');
  }
  await blocking;
  busy.disconnect();
  expect([202, 503]).toContain(answer.status);
  // Whatever ran when it resumed: nothing of this key stays pending.
  const settled = await eventually(
    async () => Number((await s.queueRedis.hget(s.queueKeysOf('k').version('k'), 'p')) ?? 0) === 0,
    10_000,
    100,
  );
  expect(settled).toBe(true);
  const g = await call(s.url, 'GET', '/v1/keys/k');
  const next = await call(s.url, 'PUT', '/v1/keys/k', {
    body: { value: 3 },
    headers: { 'If-Match': `"${String(g.body.version)}"`, Prefer: 'wait=5' },
  });
  expect(next.status).toBe(200);
}, 30_000);
