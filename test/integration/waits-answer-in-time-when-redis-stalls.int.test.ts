import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, expect, it } from 'vitest';

import { type RedisServer, startRedisServer } from '../../src/redis/index.ts';
import { call, eventually, type Stack, startStack } from '../helpers/stack.ts';

/**
 * A wait (`Prefer: wait=N`, or `?after=` with the configured default) answers within N + 2 s
 * whatever Redis does: here the queue Redis stops answering (SIGSTOP) while the wait is in flight.
 * Reads of a receipt answer 503 + Retry-After; a write that was accepted answers its plain 202 +
 * Location (a 503 would invite a duplicate). The stall watchdog is set far beyond the bound, so
 * only the wait's own deadline can answer in time. No worker runs, so every op stays queued.
 */
let dir: string;
let queue: RedisServer;
let data: RedisServer;
let s: Stack;
const WATCHDOG_MS = 20_000;
const READ_AFTER_WAIT_MS = 2000;
/** How long a request may take before it counts as hung (the test's own limit, not the bound). */
const GIVE_UP_MS = 12_000;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kvq-stall-wait-'));
  queue = await startRedisServer({ dir: join(dir, 'q'), appendonly: false });
  data = await startRedisServer({ dir: join(dir, 'd'), appendonly: false });
  s = await startStack({
    queueUrl: queue.url,
    kvUrl: data.url,
    worker: false,
    env: {
      REDIS_COMMAND_TIMEOUT_MS: String(WATCHDOG_MS),
      READ_AFTER_WAIT_MS: String(READ_AFTER_WAIT_MS),
    },
  });
});
afterAll(async () => {
  for (const r of [queue, data]) r.child.kill('SIGCONT');
  await s.stop();
  await Promise.all([queue.stop(), data.stop()]);
  rmSync(dir, { recursive: true, force: true });
});

/** An accepted write that stays queued (no worker): its op id. */
async function queuedOp(key: string): Promise<string> {
  const w = await call(s.url, 'PUT', `/v1/keys/${key}`, { body: { value: 1 } });
  expect(w.status).toBe(202);
  return w.body.op.id as string;
}

/**
 * Sends the request, stops the queue Redis once `stallWhen` holds (the request is then in its
 * wait), and returns the answer with the time from sending it; Redis is always resumed.
 */
async function duringStall(
  method: string,
  path: string,
  init: { body?: unknown; headers?: Record<string, string> },
  stallWhen: () => Promise<boolean>,
) {
  const t = performance.now();
  const answer = call(s.url, method, path, init).then((r) => ({ r, ms: performance.now() - t }));
  const failed = answer.catch((err: unknown) => err);
  try {
    expect(await eventually(stallWhen, 5000, 5)).toBe(true);
    queue.child.kill('SIGSTOP');
    const giveUp = new Promise<'hung'>((resolve) => setTimeout(() => resolve('hung'), GIVE_UP_MS));
    const got = await Promise.race([answer, giveUp]);
    if (got === 'hung') throw new Error(`no answer within ${String(GIVE_UP_MS)} ms`);
    return got;
  } finally {
    queue.child.kill('SIGCONT');
    await failed;
  }
}

const sleepMs = (ms: number) => () =>
  new Promise<boolean>((resolve) => setTimeout(() => resolve(true), ms));

it('GET /v1/ops/{id} with Prefer: wait=3: 503 QUEUE_UNAVAILABLE within 5 s', async () => {
  const id = await queuedOp('ops');
  // Stalled once the long poll has read the receipt and parked.
  const { r, ms } = await duringStall(
    'GET',
    `/v1/ops/${id}`,
    { headers: { Prefer: 'wait=3' } },
    sleepMs(300),
  );
  console.log(`ops wait=3 answered ${String(r.status)} after ${ms.toFixed(0)} ms`);
  expect(r.status).toBe(503);
  expect(r.headers.get('content-type')).toBe('application/problem+json');
  expect(r.body.code).toBe('QUEUE_UNAVAILABLE');
  expect(r.headers.get('retry-after')).toBe('1');
  expect(ms).toBeLessThan(3000 + 2000);
  // Back to normal once Redis answers.
  const back = await call(s.url, 'GET', `/v1/ops/${id}`);
  expect(back.status).toBe(200);
  expect(back.body.op.status).toBe('queued');
});

it('GET ?after= with Prefer: wait=3: 503 problem+json within 5 s', async () => {
  const id = await queuedOp('after3');
  const { r, ms } = await duringStall(
    'GET',
    `/v1/keys/after3?after=${id}`,
    { headers: { Prefer: 'wait=3' } },
    sleepMs(300),
  );
  console.log(`?after= wait=3 answered ${String(r.status)} after ${ms.toFixed(0)} ms`);
  expect(r.status).toBe(503);
  expect(r.headers.get('content-type')).toBe('application/problem+json');
  expect(['QUEUE_UNAVAILABLE', 'OP_PENDING']).toContain(r.body.code);
  expect(r.headers.get('retry-after')).toBe('1');
  expect(ms).toBeLessThan(3000 + 2000);
});

it('GET ?after= with the configured default wait: 503 within it + 2 s', async () => {
  const id = await queuedOp('afterdefault');
  const { r, ms } = await duringStall('GET', `/v1/keys/afterdefault?after=${id}`, {}, sleepMs(300));
  console.log(`?after= default wait answered ${String(r.status)} after ${ms.toFixed(0)} ms`);
  expect(r.status).toBe(503);
  expect(['QUEUE_UNAVAILABLE', 'OP_PENDING']).toContain(r.body.code);
  expect(r.headers.get('retry-after')).toBe('1');
  expect(ms).toBeLessThan(READ_AFTER_WAIT_MS + 2000);
});

it('PUT with Prefer: wait=3, accepted before the stall: 202 + Location within 5 s', async () => {
  const versionKey = s.queueKeysOf('put').version('put');
  // Stalled as soon as the write is accepted (its version issued): the wait is what remains.
  const { r, ms } = await duringStall(
    'PUT',
    '/v1/keys/put',
    { body: { value: 7 }, headers: { Prefer: 'wait=3' } },
    async () => (await s.queueRedis.exists(versionKey)) === 1,
  );
  console.log(`PUT wait=3 answered ${String(r.status)} after ${ms.toFixed(0)} ms`);
  expect(r.status).toBe(202);
  expect(ms).toBeLessThan(3000 + 2000);
  const location = r.headers.get('location');
  expect(location).toBe(`/v1/ops/${String(r.body.op.id)}`);
  expect(r.body.op).toMatchObject({ key: 'put', version: 1, status: 'queued' });
  // The 202 told the truth: the write stands.
  const op = await call(s.url, 'GET', location ?? '');
  expect(op.status).toBe(200);
  expect(op.body.op).toMatchObject({ id: r.body.op.id, key: 'put', version: 1 });
});
