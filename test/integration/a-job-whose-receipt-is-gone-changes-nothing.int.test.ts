import { Queue } from 'bullmq';
import { expect, it } from 'vitest';

import { JOB_NAME, type JobPayload } from '../../src/core/index.ts';
import { call, eventually, startStack } from '../helpers/stack.ts';

/**
 * A job redelivered after its op's receipt is gone (trimmed after the op finished, or an
 * acceptance taken back) has nothing to apply: it must not be applied, dead-lettered or turned
 * into a record without a version. Fencing cannot be switched off for a key.
 */
it('a redelivered job without a receipt is dropped: no write, no dead letter, no NaN version', async () => {
  const s = await startStack();
  const q = new Queue<JobPayload>(s.queueNameOf('fence'), { connection: { url: s.queueUrl } });
  try {
    const w = await call(s.url, 'PUT', '/v1/keys/fence', {
      body: { value: 'kept' },
      headers: { Prefer: 'wait=5' },
    });
    expect(w.status).toBe(201);
    // Jobs of ops whose receipts are gone: one sent with its acceptance (no version in it) and
    // one that carries a version, both for the same key.
    const ghosts = [s.layout.newOpId('fence'), s.layout.newOpId('fence')];
    await q.add(
      JOB_NAME,
      { opId: ghosts[0]!, key: 'fence', type: 'put', value: '"ghost"' },
      {
        jobId: ghosts[0]!,
      },
    );
    await q.add(
      JOB_NAME,
      { opId: ghosts[1]!, key: 'fence', type: 'delete', version: 9, acceptedAt: Date.now() },
      { jobId: ghosts[1]! },
    );
    expect(
      await eventually(async () => {
        const counts = await q.getJobCounts('waiting', 'active', 'delayed', 'failed');
        return Object.values(counts).every((n) => n === 0);
      }, 10_000),
    ).toBe(true);
    for (const id of ghosts) {
      expect((await call(s.url, 'GET', `/v1/dlq/${id}`)).status).toBe(404);
      expect((await call(s.url, 'GET', `/v1/ops/${id}`)).status).toBe(404);
    }
    const g = await call(s.url, 'GET', '/v1/keys/fence');
    expect(g.status).toBe(200);
    expect(g.body).toMatchObject({ value: 'kept', version: 1 });
    expect(g.headers.get('etag')).toBe('"1"');
  } finally {
    await q.close();
    await s.stop();
  }
});

it('a job naming another key than its op was accepted for is not applied', async () => {
  const s = await startStack({ worker: false });
  const q = new Queue<JobPayload>(s.queueNameOf('victim'), { connection: { url: s.queueUrl } });
  try {
    const w = await call(s.url, 'PUT', '/v1/keys/victim', { body: { value: 'real' } });
    expect(w.status).toBe(202);
    const id = w.body.op.id as string;
    // A second job for the same op, but for another key, taken first.
    await q.add(
      JOB_NAME,
      { opId: id, key: 'other-victim', type: 'put', value: '"forged"' },
      { jobId: `${id}-forged`, lifo: true },
    );
    await s.startWorker();
    const done = await call(s.url, 'GET', `/v1/ops/${id}`, { headers: { Prefer: 'wait=10' } });
    expect(done.body.op.status).toBe('applied');
    expect((await call(s.url, 'GET', '/v1/keys/victim')).body.value).toBe('real');
    expect((await call(s.url, 'GET', '/v1/keys/other-victim')).status).toBe(404);
    expect(await s.queueRedis.hget(s.queueKeysOf('victim').version('victim'), 'p')).toBe('0');
  } finally {
    await q.close();
    await s.stop();
  }
});
