import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Queue } from 'bullmq';
import { afterAll, beforeAll, expect, it } from 'vitest';

import { type RedisServer, startRedisServer } from '../../src/redis/index.ts';
import { call, eventually, startStack } from '../helpers/stack.ts';

/**
 * `dead` means "no effect, and none can come". A worker that cannot learn whether its apply ran
 * (a data Redis that is down, or that stalls and runs the buffered command later) does not guess:
 * the op stays open until the data Redis, past the apply's deadline, shows what happened.
 */
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'kvq-unknown-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

const fast = {
  JOB_ATTEMPTS: '2',
  JOB_BACKOFF_MS: '20',
  REDIS_COMMAND_TIMEOUT_MS: '300',
  REDIS_CONNECT_TIMEOUT_MS: '200',
  RECONCILE_INTERVAL_MS: '300',
};

it('a data Redis that is down: ops are not reported dead until it can say they never ran', async () => {
  let data: RedisServer = await startRedisServer({ dir: join(dir, 'down'), appendonly: false });
  const s = await startStack({ kvUrl: data.url, env: fast });
  try {
    await data.stop('SIGKILL');
    const w = await call(s.url, 'PUT', '/v1/keys/k', { body: { value: 1 } });
    expect(w.status).toBe(202);
    // Well past both attempts: still open, because nothing can tell whether an apply ran.
    await new Promise((r) => setTimeout(r, 4000));
    const open = await call(s.url, 'GET', `/v1/ops/${w.body.op.id}`);
    expect(['queued', 'active']).toContain(open.body.op.status);
    data = await startRedisServer({ dir: join(dir, 'down'), appendonly: false, port: data.port });
    const done = await call(s.url, 'GET', `/v1/ops/${w.body.op.id}`, {
      headers: { Prefer: 'wait=25' },
    });
    // Nothing of it ran: dead is true now, and the key has no value.
    expect(done.body.op.status).toBe('dead');
    expect(done.body.op.error.code).toMatch(/DATA_UNAVAILABLE|RETRIES_EXHAUSTED/);
    expect((await call(s.url, 'GET', '/v1/keys/k')).status).toBe(404);
  } finally {
    await s.stop();
    await data.stop();
  }
}, 45_000);

it('a data Redis that stalls (SIGSTOP) during applies: no op is dead while its value is visible', async () => {
  const data = await startRedisServer({ dir: join(dir, 'stall'), appendonly: false });
  const s = await startStack({ kvUrl: data.url, env: fast });
  try {
    data.child.kill('SIGSTOP');
    const ids: string[] = [];
    try {
      for (let i = 0; i < 20; i++) {
        const w = await call(s.url, 'PUT', `/v1/keys/s${String(i)}`, { body: { value: i } });
        expect(w.status).toBe(202);
        ids.push(w.body.op.id as string);
      }
      // Applies are sent, time out at 300 ms and sit in the stalled server's buffers, and the
      // workers run out of attempts; when the server resumes it runs what it buffered (a worker
      // that called those ops dead on a timeout would now be contradicted).
      await new Promise((r) => setTimeout(r, 5000));
    } finally {
      data.child.kill('SIGCONT');
    }
    const statuses: string[] = [];
    for (const [i, id] of ids.entries()) {
      const r = await call(s.url, 'GET', `/v1/ops/${id}`, { headers: { Prefer: 'wait=25' } });
      const status = r.body.op.status as string;
      statuses.push(status);
      const g = await call(s.url, 'GET', `/v1/keys/s${String(i)}`);
      // The oracle for one blind put per key: applied <=> visible, dead <=> absent.
      if (status === 'applied') expect(g.body).toMatchObject({ value: i, version: 1 });
      else {
        expect(status).toBe('dead');
        expect(g.status).toBe(404);
      }
    }
    console.log(`stalled data Redis: ${JSON.stringify(statuses)}`);
  } finally {
    data.child.kill('SIGCONT');
    await s.stop();
    await data.stop();
  }
}, 60_000);

it('fails a malformed job at once, without retries, into the dead-letter queue', async () => {
  const s = await startStack({ env: { JOB_ATTEMPTS: '5' } });
  // A job that is not even an op lands in partition 0's queue, where an id that names no
  // partition is filed.
  const q = new Queue(s.layout.queueName(0), { connection: { url: s.queueUrl } });
  try {
    const job = await q.add('apply', { opId: 'x', nonsense: true }, { attempts: 5, backoff: 10 });
    const dl = await eventually(async () => {
      const r = await call(s.url, 'GET', `/v1/dlq/${job.id!}`);
      return r.status === 200 ? r.body : undefined;
    });
    expect(dl).toMatchObject({ id: job.id, attempts: 1, error: { code: 'MALFORMED_JOB' } });
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
