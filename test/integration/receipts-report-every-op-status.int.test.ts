import { Queue } from 'bullmq';
import { afterAll, beforeAll, expect, it } from 'vitest';

import { call, eventually, type Stack, startStack } from '../helpers/stack.ts';

let s: Stack;
beforeAll(async () => {
  s = await startStack({ worker: false });
});
afterAll(async () => {
  await s.stop();
});

it('goes queued → applied/superseded, and duplicated jobs change nothing', async () => {
  const a = await call(s.url, 'PUT', '/v1/keys/r', { body: { value: 'v1' } });
  const b = await call(s.url, 'PUT', '/v1/keys/r', { body: { value: 'v2' } });
  expect((await call(s.url, 'GET', `/v1/ops/${a.body.op.id}`)).body.op.status).toBe('queued');

  // Deliver v2 first by hand-ordering: add a copy of b's job under another id, run workers.
  const q = new Queue(s.queueNameOf('r'), { connection: { url: s.queueUrl } });
  const bJob = await q.getJob(b.body.op.id);
  const aJob = await q.getJob(a.body.op.id);
  // The job carries no version (it was added with its acceptance); the worker reads it from
  // the receipt, so the copy of a's job below is still applied as version 1.
  expect(bJob?.data).toMatchObject({ opId: b.body.op.id, key: 'r' });
  expect(bJob?.data.version).toBeUndefined();
  expect(b.body.op.version).toBe(2);
  await q.add('apply', aJob!.data, { jobId: `${a.body.op.id}-dup` });
  await q.close();

  await s.startWorker();
  const ra = await call(s.url, 'GET', `/v1/ops/${a.body.op.id}`, {
    headers: { Prefer: 'wait=10' },
  });
  const rb = await call(s.url, 'GET', `/v1/ops/${b.body.op.id}`, {
    headers: { Prefer: 'wait=10' },
  });
  expect(rb.body.op.status).toBe('applied');
  expect(['applied', 'superseded']).toContain(ra.body.op.status);
  const g = await call(s.url, 'GET', '/v1/keys/r');
  expect(g.body).toMatchObject({ value: 'v2', version: 2 });

  // Jobs are removed once done: the value does not linger in the queue Redis.
  const left = await eventually(async () => {
    const ids = [a.body.op.id, b.body.op.id, `${a.body.op.id}-dup`] as string[];
    const n = await s.queueRedis.exists(...ids.map((id) => `bull:${s.queueNameOf('r')}:${id}`));
    return n === 0;
  });
  expect(left).toBe(true);
});

it('a later write applied first makes the earlier one superseded', async () => {
  const p = await startStack({ worker: false });
  try {
    const first = await call(p.url, 'PUT', '/v1/keys/s', { body: { value: 'old' } });
    const second = await call(p.url, 'PUT', '/v1/keys/s', { body: { value: 'new' } });
    // Apply the second op's job alone, then let the first one run.
    const q = new Queue(p.queueNameOf('s'), { connection: { url: p.queueUrl } });
    const job1 = await q.getJob(first.body.op.id);
    await job1!.remove();
    await p.startWorker();
    await call(p.url, 'GET', `/v1/ops/${second.body.op.id}`, { headers: { Prefer: 'wait=10' } });
    await q.add('apply', job1!.data, { jobId: first.body.op.id });
    await q.close();
    const r = await call(p.url, 'GET', `/v1/ops/${first.body.op.id}`, {
      headers: { Prefer: 'wait=10' },
    });
    expect(r.body.op.status).toBe('superseded');
    expect(r.body.op.appliedAt).toBeUndefined();
    expect((await call(p.url, 'GET', '/v1/keys/s')).body).toMatchObject({
      value: 'new',
      version: 2,
    });
  } finally {
    await p.stop();
  }
});

it('receipts never hold the value and expire after OP_RETENTION_SECONDS', async () => {
  const p = await startStack({ env: { OP_RETENTION_SECONDS: '1' } });
  try {
    const w = await call(p.url, 'PUT', '/v1/keys/ret', {
      body: { value: 'secret-value-123' },
      headers: { Prefer: 'wait=5' },
    });
    const id = w.body.op.id as string;
    const raw = await p.queueRedis.hgetall(p.queueKeysOfOp(id).op(id));
    expect(JSON.stringify(raw)).not.toContain('secret-value-123');
    expect(await p.queueRedis.pttl(p.queueKeysOfOp(id).op(id))).toBeGreaterThan(0);
    const gone = await eventually(
      async () => (await call(p.url, 'GET', `/v1/ops/${id}`)).status === 404,
      3000,
    );
    expect(gone).toBe(true);
  } finally {
    await p.stop();
  }
});

it.each(['1', '12'])(
  'keeps at most OP_RETENTION_COUNT finished receipts, split evenly over %s partition(s)',
  async (partitions) => {
    const p = await startStack({ env: { OP_RETENTION_COUNT: '100', PARTITIONS: partitions } });
    try {
      const ids: string[] = [];
      for (let i = 0; i < 110; i++) {
        const r = await call(p.url, 'PUT', `/v1/keys/cap${String(i)}`, { body: { value: i } });
        ids.push(r.body.op.id);
      }
      for (const id of ids) {
        await call(p.url, 'GET', `/v1/ops/${id}`, { headers: { Prefer: 'wait=10' } });
      }
      // Each partition keeps the newest ceil(100 / P) of its own: the expected count of every
      // partition follows from where the keys fall.
      const cap = Math.ceil(100 / p.layout.count);
      const perPartition = new Map<number, number>();
      for (let i = 0; i < 110; i++) {
        const part = p.layout.of(`cap${String(i)}`);
        perPartition.set(part, (perPartition.get(part) ?? 0) + 1);
      }
      let kept = 0;
      for (const [part, n] of perPartition) {
        const want = Math.min(n, cap);
        kept += want;
        expect(await p.queueRedis.zcard(p.layout.queue(part).finished)).toBe(want);
      }
      expect(kept).toBeLessThanOrEqual(100 + p.layout.count - 1);
      let missing = 0;
      for (const id of ids) {
        if ((await call(p.url, 'GET', `/v1/ops/${id}`)).status === 404) missing++;
      }
      expect(missing).toBe(110 - kept);
    } finally {
      await p.stop();
    }
  },
);
