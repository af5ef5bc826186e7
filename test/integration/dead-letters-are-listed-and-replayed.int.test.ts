import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Queue, UnrecoverableError, Worker } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { type RedisServer, startRedisServer } from '../../src/redis/index.ts';
import { call, eventually, type Stack, startStack } from '../helpers/stack.ts';

let dir: string;
let data: RedisServer;
let s: Stack;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kvq-dlq-'));
  data = await startRedisServer({ dir, appendonly: false });
  s = await startStack({
    kvUrl: data.url,
    env: {
      JOB_ATTEMPTS: '2',
      JOB_BACKOFF_MS: '20',
      RECONCILE_INTERVAL_MS: '200',
      ORPHAN_AGE_MS: '1000',
    },
  });
});
afterAll(async () => {
  await s.stop();
  await data.stop();
  rmSync(dir, { recursive: true, force: true });
});

const wait = (id: string) =>
  call(s.url, 'GET', `/v1/ops/${id}`, { headers: { Prefer: 'wait=20' } });

describe('the dead-letter queue', () => {
  it('holds ops that outlived the retry budget, and replays them as new ops once the outage is over', async () => {
    await call(s.url, 'PUT', '/v1/keys/dl/a', {
      body: { value: 'v1' },
      headers: { Prefer: 'wait=5' },
    });
    await data.stop();
    const writes = [];
    for (const [k, v] of [
      ['dl/a', 'v2'],
      ['dl/b', 'b1'],
      ['other/c', 'c1'],
    ] as const) {
      writes.push(await call(s.url, 'PUT', `/v1/keys/${k}`, { body: { value: { v } } }));
    }
    for (const w of writes) expect(w.status).toBe(202);
    // Out of attempts, but not dead while the data Redis cannot say whether an apply ran.
    await new Promise((r) => setTimeout(r, 1500));
    for (const w of writes) {
      const open = await call(s.url, 'GET', `/v1/ops/${w.body.op.id}`);
      expect(['queued', 'active']).toContain(open.body.op.status);
    }
    data = await data.restart();
    for (const w of writes) {
      const r = await wait(w.body.op.id);
      expect(r.body.op.status).toBe('dead');
      expect(r.body.op.attempts).toBe(2);
      expect(r.body.op.error.code).toMatch(/^(DATA_UNAVAILABLE|RETRIES_EXHAUSTED)$/);
    }

    // Listed newest first, paged by cursor.
    const p1 = await call(s.url, 'GET', '/v1/dlq?limit=2');
    expect(p1.status).toBe(200);
    expect(p1.body.items).toHaveLength(2);
    expect(p1.body.nextCursor).toBeTypeOf('string');
    const p2 = await call(
      s.url,
      'GET',
      `/v1/dlq?limit=2&cursor=${encodeURIComponent(p1.body.nextCursor)}`,
    );
    expect(p2.body.items).toHaveLength(1);
    expect(p2.body.nextCursor).toBeNull();
    const listed = [...p1.body.items, ...p2.body.items] as { id: string; failedAt: string }[];
    expect(listed.map((i) => i.id).sort()).toEqual(
      writes.map((w) => w.body.op.id as string).sort(),
    );
    const times = listed.map((i) => Date.parse(i.failedAt));
    expect(times).toEqual([...times].sort((a, b) => b - a));

    // One entry: the original op with its value, the last error, attempts and times.
    const one = await call(s.url, 'GET', `/v1/dlq/${writes[0]!.body.op.id}`);
    expect(one.body).toMatchObject({
      id: writes[0]!.body.op.id,
      key: 'dl/a',
      type: 'put',
      version: 2,
      attempts: 2,
      error: { code: expect.stringMatching(/^(DATA_UNAVAILABLE|RETRIES_EXHAUSTED)$/) },
      op: { key: 'dl/a', version: 2, value: { v: 'v2' } },
    });
    expect(Date.parse(one.body.failedAt)).toBeGreaterThanOrEqual(Date.parse(one.body.acceptedAt));
    // Dead means no effect (the restarted data Redis kept no data, so not even v1 is left).
    expect((await call(s.url, 'GET', '/v1/keys/dl/a')).status).toBe(404);

    // Replay one: a new op (new id and version) with the dead op's write.
    const deadId = writes[0]!.body.op.id as string;
    const r1 = await call(s.url, 'POST', `/v1/dlq/${deadId}/retry`);
    expect(r1.status).toBe(202);
    expect(r1.body.op).toMatchObject({ key: 'dl/a', version: 3, status: 'queued' });
    expect(r1.body.op.id).not.toBe(deadId);
    expect(r1.headers.get('location')).toBe(`/v1/ops/${r1.body.op.id as string}`);
    const replayed = await wait(r1.body.op.id);
    expect(replayed.body.op).toMatchObject({ status: 'applied', replayOf: deadId });
    expect((await call(s.url, 'GET', '/v1/keys/dl/a')).body).toMatchObject({
      value: { v: 'v2' },
      version: 3,
    });
    expect((await call(s.url, 'GET', `/v1/dlq/${deadId}`)).status).toBe(404);
    // The dead op stays dead: it had no effect, the replay did.
    expect((await wait(deadId)).body.op.status).toBe('dead');

    // Replay all under a prefix: reports how many.
    const all = await call(s.url, 'POST', '/v1/dlq/retry?prefix=dl/');
    expect(all.body).toEqual({ retried: 1, skipped: 0 });
    // The replay is accepted (not waited on): it lands shortly.
    expect(
      await eventually(async () => (await call(s.url, 'GET', '/v1/keys/dl/b')).status === 200),
    ).toBe(true);
    expect((await call(s.url, 'GET', '/v1/dlq')).body.items).toHaveLength(1);

    // Discard the last one: 204, then 404; its receipt stays dead.
    expect((await call(s.url, 'DELETE', `/v1/dlq/${writes[2]!.body.op.id}`)).status).toBe(204);
    expect((await call(s.url, 'DELETE', `/v1/dlq/${writes[2]!.body.op.id}`)).status).toBe(404);
    expect((await wait(writes[2]!.body.op.id)).body.op.status).toBe('dead');
  }, 60_000);

  it('a replay after a newer write is refused (409) unless forced', async () => {
    await data.stop();
    const old = await call(s.url, 'PUT', '/v1/keys/stale', { body: { value: 'old' } });
    await new Promise((r) => setTimeout(r, 1500));
    data = await data.restart();
    expect((await wait(old.body.op.id)).body.op.status).toBe('dead');
    const fresh = await call(s.url, 'PUT', '/v1/keys/stale', {
      body: { value: 'new' },
      headers: { Prefer: 'wait=10' },
    });
    expect(fresh.status).toBe(201);
    const refused = await call(s.url, 'POST', `/v1/dlq/${old.body.op.id}/retry`);
    expect(refused.status).toBe(409);
    expect(refused.body.code).toBe('NOT_REPLAYABLE');
    expect((await call(s.url, 'GET', '/v1/keys/stale')).body).toMatchObject({
      value: 'new',
      version: 2,
    });
    // Five forced replays at once: exactly one is accepted, the others are refused.
    const forcedAll = await Promise.all(
      Array.from({ length: 5 }, () =>
        call(s.url, 'POST', `/v1/dlq/${old.body.op.id}/retry?force=true`, {
          headers: { Prefer: 'wait=10' },
        }),
      ),
    );
    const statuses = forcedAll.map((r) => r.status).sort();
    expect(statuses.filter((x) => x === 200)).toHaveLength(1);
    expect(statuses.every((x) => x === 200 || x === 404 || x === 409)).toBe(true);
    expect((await call(s.url, 'GET', '/v1/keys/stale')).body).toMatchObject({
      value: 'old',
      version: 3,
    });
  }, 60_000);

  it('a final failure that no process recorded is dead-lettered by the reconciler', async () => {
    const p = await startStack({
      worker: false,
      queueUrl: s.queueUrl,
      kvUrl: data.url,
      env: { RECONCILE_INTERVAL_MS: '200' },
    });
    const q = new Queue(p.queueNameOf('crashy'), { connection: { url: p.queueUrl } });
    try {
      const w = await call(p.url, 'PUT', '/v1/keys/crashy', { body: { value: 2 } });
      const id = w.body.op.id as string;
      // The op's job fails in a worker that "dies" before recording anything: a bare BullMQ
      // worker moves it to the failed set and does nothing else.
      const silent = new Worker(p.queueNameOf('crashy'), null, {
        connection: { url: p.queueUrl, maxRetriesPerRequest: null },
      });
      const job = await silent.getNextJob('tok');
      expect(job.id).toBe(id);
      await job.moveToFailed(new UnrecoverableError('simulated crash before recording'), 'tok');
      await silent.close();
      expect((await call(p.url, 'GET', `/v1/ops/${id}`)).body.op.status).toBe('queued');

      await p.startWorker();
      const dl = await eventually(async () => {
        const r = await call(p.url, 'GET', `/v1/dlq/${id}`);
        return r.status === 200 ? r.body : undefined;
      }, 10_000);
      expect(dl).toMatchObject({
        key: 'crashy',
        error: { code: 'RETRIES_EXHAUSTED', message: 'simulated crash before recording' },
        op: { version: 1, value: 2 },
      });
      expect((await call(p.url, 'GET', `/v1/ops/${id}`)).body.op.status).toBe('dead');
      expect(await eventually(async () => (await q.getJob(id)) === undefined)).toBe(true);
    } finally {
      await q.close();
      await p.stop();
    }
  }, 30_000);

  it('an accepted op whose job is gone is closed as dead (JOB_LOST), not left queued', async () => {
    const p = await startStack({
      worker: false,
      queueUrl: s.queueUrl,
      kvUrl: data.url,
      env: { RECONCILE_INTERVAL_MS: '200', ORPHAN_AGE_MS: '1000' },
    });
    try {
      // As if the API died between accepting and enqueueing: a receipt with no job.
      const w = await call(p.url, 'PUT', '/v1/keys/lost', { body: { value: 1 } });
      const q = new Queue(p.queueNameOf('lost'), { connection: { url: p.queueUrl } });
      await (await q.getJob(w.body.op.id))!.remove();
      await q.close();
      await p.startWorker();
      const r = await call(p.url, 'GET', `/v1/ops/${w.body.op.id}`, {
        headers: { Prefer: 'wait=10' },
      });
      expect(r.body.op.status).toBe('dead');
      expect(r.body.op.error.code).toBe('JOB_LOST');
      // Nothing is pending for the key any more, so conditions are decided at once again.
      const again = await call(p.url, 'DELETE', '/v1/keys/lost');
      expect(again.status).toBe(404);
    } finally {
      await p.stop();
    }
  }, 30_000);
});
