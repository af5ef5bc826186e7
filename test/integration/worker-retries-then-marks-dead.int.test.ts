import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';

import { Queue } from 'bullmq';
import { expect, it } from 'vitest';

import { call, eventually, startStack } from '../helpers/stack.ts';

it('retries a transient data-Redis failure with backoff, then marks the op dead', async () => {
  // A "data Redis" that drops every connection, held on its port for the whole test: a port that
  // is merely free could be taken by a redis-server another test file starts meanwhile (seen in CI).
  const dead = createServer((socket) => socket.destroy());
  await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
  const deadPort = (dead.address() as AddressInfo).port;
  const s = await startStack({
    kvUrl: `redis://127.0.0.1:${String(deadPort)}`,
    env: { JOB_ATTEMPTS: '3', JOB_BACKOFF_MS: '20', REDIS_CONNECT_TIMEOUT_MS: '200' },
  });
  try {
    const w = await call(s.url, 'PUT', '/v1/keys/k', { body: { value: 1 } });
    expect(w.status).toBe(202);
    const r = await call(s.url, 'GET', `/v1/ops/${w.body.op.id}`, {
      headers: { Prefer: 'wait=25' },
    });
    expect(r.body.op.status).toBe('dead');
    expect(r.body.op.attempts).toBe(3);
    expect(r.body.op.error.code).toBe('DATA_UNAVAILABLE');
  } finally {
    await s.stop();
    await new Promise((r) => dead.close(r));
  }
}, 40_000);

it('fails a malformed job at once, without retries, into the dead-letter queue', async () => {
  const s = await startStack({ env: { JOB_ATTEMPTS: '5' } });
  const q = new Queue(s.config.QUEUE_NAME, { connection: { url: s.queueUrl } });
  try {
    const job = await q.add('apply', { opId: 'x', nonsense: true }, { attempts: 5, backoff: 10 });
    const dl = await eventually(async () => {
      const r = await call(s.url, 'GET', `/v1/dlq/${job.id!}`);
      return r.status === 200 ? r.body : undefined;
    });
    expect(dl).toMatchObject({
      id: job.id,
      attempts: 1,
      error: { code: 'MALFORMED_JOB' },
      op: null,
    });
    // Dead-lettered jobs leave BullMQ.
    expect(await eventually(async () => (await q.getJob(job.id!)) === undefined)).toBe(true);
    const retry = await call(s.url, 'POST', `/v1/dlq/${job.id!}/retry`);
    expect(retry.status).toBe(409);
    expect(retry.body.code).toBe('NOT_REPLAYABLE');
  } finally {
    await q.close();
    await s.stop();
  }
});
