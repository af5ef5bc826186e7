import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Queue } from 'bullmq';
import { afterAll, beforeAll, expect, it } from 'vitest';

import { AppError } from '../../src/core/index.ts';
import { type RedisServer, startRedisServer } from '../../src/redis/index.ts';
import { createLedger, guard } from '../../src/store/index.ts';
import { ADMISSION_SEES_IT_MS, fillUntilFull } from '../helpers/fill-redis.ts';
import { call, eventually, startStack } from '../helpers/stack.ts';

let dir: string;
let queue: RedisServer;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kvq-full-queue-'));
  queue = await startRedisServer({
    dir,
    appendonly: false,
    noeviction: true,
    extraArgs: ['--maxmemory', '6mb'],
  });
});
afterAll(async () => {
  await queue.stop();
  rmSync(dir, { recursive: true, force: true });
});

it('a full queue Redis: writes 503 QUEUE_FULL + Retry-After, reads and /readyz fine; once memory frees writes work and every accepted op finishes', async () => {
  const s = await startStack({ worker: false, queueUrl: queue.url });
  try {
    await s.queueRedis.config('SET', 'maxmemory', '6mb');
    // Accepted before the Redis fills: they must not stay stuck.
    const accepted: string[] = [];
    for (let i = 0; i < 10; i++) {
      const headers: Record<string, string> = i % 2 ? { 'Idempotency-Key': `ik-${String(i)}` } : {};
      const r = await call(s.url, 'PUT', `/v1/keys/before${String(i)}`, {
        body: { value: i },
        headers,
      });
      expect(r.status).toBe(202);
      accepted.push(r.body.op.id as string);
    }
    for (let i = 0; i < 150; i += 25) {
      const batch = await Promise.all(
        Array.from({ length: 25 }, (_, j) =>
          call(s.url, 'PUT', `/v1/keys/more${String(i + j)}`, { body: { value: i + j } }),
        ),
      );
      for (const r of batch) accepted.push(r.body.op.id as string);
    }
    // The Redis fills while the worker works through them: some are caught between steps
    // (started, applied, not yet finished), the rest cannot even be fetched.
    await s.startWorker();
    await fillUntilFull(s.queueRedis);

    await new Promise((r) => setTimeout(r, ADMISSION_SEES_IT_MS));
    const refused = await call(s.url, 'PUT', '/v1/keys/during', { body: { value: 'x' } });
    expect(refused.status).toBe(503);
    expect(refused.body.code).toBe('QUEUE_FULL');
    expect(refused.headers.get('retry-after')).toBe('5');
    const idem = await call(s.url, 'PUT', '/v1/keys/during', {
      body: { value: 'x' },
      headers: { 'Idempotency-Key': 'during-1' },
    });
    expect(idem.status).toBe(503);
    expect(idem.body.code).toBe('QUEUE_FULL');
    expect((await call(s.url, 'DELETE', '/v1/keys/before0')).body.code).toBe('QUEUE_FULL');
    expect((await call(s.url, 'GET', '/v1/keys/during')).status).toBe(404); // a read, not a 503
    expect((await call(s.url, 'GET', '/v1/keys')).status).toBe(200);
    expect((await call(s.url, 'GET', `/v1/ops/${accepted[0] ?? ''}`)).status).toBe(200);
    expect((await call(s.url, 'GET', '/readyz')).status).toBe(200);

    await s.queueRedis.config('SET', 'maxmemory', '64mb');
    const ok = await eventually(async () => {
      const r = await call(s.url, 'PUT', '/v1/keys/after', { body: { value: 'y' } });
      return r.status === 202 ? r : undefined;
    });
    expect(ok).toBeDefined();
    accepted.push(ok?.body.op.id as string);
    for (const id of accepted) {
      const r = await call(s.url, 'GET', `/v1/ops/${id}`, { headers: { Prefer: 'wait=20' } });
      expect(r.body.op.status).toBe('applied');
    }
    expect(await s.openCount()).toBe(0);
    expect((await call(s.url, 'GET', '/v1/keys/before1')).body.value).toBe(1);
  } finally {
    await s.stop();
    queue = await queue.restart(); // empty again (no AOF) for the next test; stopped in afterAll
  }
}, 90_000);

it('an OOM reply is QUEUE_FULL, and an acceptance whose job could not be added is taken back while still full', async () => {
  const s = await startStack({ worker: false, queueUrl: queue.url });
  const q = new Queue(s.queueNameOf('k'), { connection: s.queueRedis });
  try {
    const ledger = createLedger({
      redis: s.queueRedis,
      layout: s.layout,
      retentionMs: 60_000,
      retentionCount: 1000,
    });
    const op1 = ledger.newOpId('k');
    const a = await ledger.accept({ opId: op1, key: 'k', type: 'put' });
    expect(a.kind).toBe('new');
    await fillUntilFull(s.queueRedis);
    const add = await guard(q.add('apply', { opId: op1 }, { jobId: op1 }), 'QUEUE_UNAVAILABLE')
      .then(() => undefined)
      .catch((err: unknown) => err);
    expect(add).toBeInstanceOf(AppError);
    expect((add as AppError).code).toBe('QUEUE_FULL');
    await expect(
      ledger.accept({ opId: ledger.newOpId('k'), key: 'k', type: 'put' }),
    ).rejects.toMatchObject({
      code: 'QUEUE_FULL',
      status: 503,
    });
    // What acceptAndEnqueue and submitWrite do when the add fails: it works on a full Redis.
    await ledger.unaccept({ opId: op1, key: 'k' });
    expect(await ledger.receipt(op1)).toBeNull();
    expect(await s.openCount()).toBe(0);
  } finally {
    await q.close();
    await s.stop();
  }
}, 60_000);
