import { randomBytes } from 'node:crypto';

import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';

import { keyLayout } from '../../src/core/index.ts';
import { createRecordStore } from '../../src/store/index.ts';
import { type ReplicatedStack, startReplicatedStack } from '../helpers/replicated-pair.ts';
import { call, type Stack } from '../helpers/stack.ts';

/**
 * `?consistency=replicated` where the data Redis cannot confirm anything: a node that is no
 * primary any more, a cluster slot map that does not name the key's master, a request that asks
 * for two consistencies at once. Each is a refusal (503 READ_NOT_REPLICATED, or 400), never a 500
 * nor a weaker read than asked for.
 */
let r: ReplicatedStack;
let data: ReplicatedStack['data'];
let s: Stack;
const layout = keyLayout({
  prefix: `rr${randomBytes(3).toString('hex')}:`,
  queueName: 'unused',
  partitions: 4,
});

beforeAll(async () => {
  r = await startReplicatedStack('rr', {
    MIN_REPLICA_ACKS: '1',
    REPLICA_ACK_TIMEOUT_MS: '300',
    REDIS_COMMAND_TIMEOUT_MS: '600',
  });
  ({ stack: s, data } = r);
}, 30_000);
afterAll(async () => {
  await r.stop();
});

it('a data connection left on a demoted primary (now a replica) is a shortfall, not an error', async () => {
  // What the API's data client holds between a failover and its reconnect: reads still answer
  // there, INCR is refused (READONLY) and so is WAIT ("cannot be used with replica instances").
  const redis = new Redis(data.replica.url);
  try {
    const records = createRecordStore({
      redis,
      layout,
      fenceWindowMs: 60_000,
      minReplicaAcks: 1,
      replicaAckTimeoutMs: 200,
    });
    expect(await records.get('k')).toBeNull();
    await expect(records.replicated('k')).resolves.toBe(false);
  } finally {
    redis.disconnect();
  }
});

it('a cluster client whose slot map does not name the key master is a shortfall, not an error', async () => {
  const cluster = new Cluster([{ host: '127.0.0.1', port: data.primary.port }], {
    lazyConnect: true,
  });
  try {
    const records = createRecordStore({
      redis: cluster,
      layout,
      fenceWindowMs: 60_000,
      minReplicaAcks: 1,
      replicaAckTimeoutMs: 200,
    });
    await expect(records.replicated('k')).resolves.toBe(false);
  } finally {
    cluster.disconnect();
  }
});

it('consistency given twice is refused, whichever comes first', async () => {
  const put = await call(s.url, 'PUT', '/v1/keys/twice', {
    body: { value: 1 },
    headers: { Prefer: 'wait=10' },
  });
  expect(put.status).toBe(201);
  for (const q of [
    'consistency=primary&consistency=replicated',
    'consistency=replicated&consistency=primary',
    'consistency=replicated&consistency=replicated',
  ]) {
    const r = await call(s.url, 'GET', `/v1/keys/twice?${q}`);
    expect([q, r.status, r.body.code]).toEqual([q, 400, 'VALIDATION_FAILED']);
    expect(r.headers.get('content-type')).toContain('application/problem+json');
    const head = await fetch(`${s.url}/v1/keys/twice?${q}`, { method: 'HEAD' });
    expect(head.status).toBe(400);
  }
  const one = await call(s.url, 'GET', '/v1/keys/twice?consistency=%72eplicated');
  expect([one.status, one.body.value]).toEqual([200, 1]);
});

it('a bad consistency is refused before ?after is looked at', async () => {
  const w = await call(s.url, 'PUT', '/v1/keys/bad-after', { body: { value: 1 } });
  expect(w.status).toBe(202);
  // Otherwise an unknown op answers 404 OP_NOT_FOUND, and a pending one is waited for first.
  for (const after of [w.body.op.id as string, 'no-such-op']) {
    const r = await call(s.url, 'GET', `/v1/keys/bad-after?after=${after}&consistency=bogus`, {
      headers: { Prefer: 'wait=2' },
    });
    expect([r.status, r.body.code]).toEqual([400, 'VALIDATION_FAILED']);
  }
});

it('a full data primary (maxmemory) refuses the INCR: a replicated read is 503, a plain one answers', async () => {
  const put = await call(s.url, 'PUT', '/v1/keys/full', {
    body: { value: 1 },
    headers: { Prefer: 'wait=10' },
  });
  expect(put.status).toBe(201);
  const dp = new Redis(data.primary.url);
  try {
    const used = Number(/used_memory:(\d+)/.exec(await dp.info('memory'))?.[1]);
    await dp.config('SET', 'maxmemory', String(used - 256 * 1024));
    await expect(dp.incr('probe')).rejects.toThrow(/^OOM/);
    const r = await call(s.url, 'GET', '/v1/keys/full?consistency=replicated');
    expect([r.status, r.body.code, r.headers.get('retry-after')]).toEqual([
      503,
      'READ_NOT_REPLICATED',
      '1',
    ]);
    expect((await call(s.url, 'GET', '/v1/keys/full')).body.value).toBe(1);
  } finally {
    await dp.config('SET', 'maxmemory', '0');
    dp.disconnect();
  }
  const again = await call(s.url, 'GET', '/v1/keys/full?consistency=replicated');
  expect([again.status, again.body.value]).toEqual([200, 1]);
});

it('a stalled data primary: replicated reads (with ?after, and HEAD) answer 503 within the stall bound', async () => {
  const put = await call(s.url, 'PUT', '/v1/keys/stalled', {
    body: { value: 1 },
    headers: { Prefer: 'wait=10' },
  });
  expect(put.status).toBe(201);
  const opId = put.body.op.id as string;
  data.primary.child.kill('SIGSTOP');
  try {
    const targets = [
      '/v1/keys/stalled?consistency=replicated',
      `/v1/keys/stalled?consistency=replicated&after=${opId}`,
    ];
    for (const method of ['GET', 'HEAD']) {
      for (const target of targets) {
        const t = Date.now();
        const r = await fetch(`${s.url}${target}`, { method, headers: { Prefer: 'wait=1' } });
        const text = await r.text();
        expect([method, target, r.status]).toEqual([method, target, 503]);
        expect(r.headers.get('retry-after')).toBe('1');
        if (method === 'GET') expect(JSON.parse(text)).toMatchObject({ code: 'DATA_UNAVAILABLE' });
        // REDIS_COMMAND_TIMEOUT_MS is 600: a stuck command fails within 1.25 times that.
        expect(Date.now() - t).toBeLessThan(3000);
      }
    }
  } finally {
    data.primary.child.kill('SIGCONT');
  }
  await expect
    .poll(
      async () => (await call(s.url, 'GET', '/v1/keys/stalled?consistency=replicated')).status,
      {
        timeout: 10_000,
      },
    )
    .toBe(200);
}, 30_000);
