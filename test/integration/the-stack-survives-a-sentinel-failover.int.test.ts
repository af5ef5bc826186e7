import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';

import { type LocalSentinelSet, startSentinelSet } from '../../src/redis/index.ts';
import { call, type Stack, startStack } from '../helpers/stack.ts';

/**
 * The whole stack on two Sentinel sets (queue and data: a primary, two replicas and three
 * Sentinels each), MIN_REPLICA_ACKS=1. SIGKILL the queue primary, then the data primary: while
 * the Sentinels fail over, a write is answered 503 (retryable, never 500) or accepted (202, and
 * later applied); within 20 s writes are applied again; every write ever answered applied is
 * still there with its value, and its receipt still says applied; the killed primary comes back
 * as a replica of the new one.
 */
let queueSet: LocalSentinelSet;
let dataSet: LocalSentinelSet;
let s: Stack;

beforeAll(async () => {
  [queueSet, dataSet] = await Promise.all([
    startSentinelSet({ masterName: 'kvq-queue', downAfterMs: 1000 }),
    startSentinelSet({ masterName: 'kvq-data', downAfterMs: 1000 }),
  ]);
  s = await startStack({
    queueUrl: queueSet.url,
    kvUrl: dataSet.url,
    env: { MIN_REPLICA_ACKS: '1', REPLICA_ACK_TIMEOUT_MS: '1000', JOB_BACKOFF_MS: '200' },
  });
}, 60_000);

afterAll(async () => {
  await s.stop();
  const sets = [queueSet, dataSet];
  const pids = sets.flatMap((set) => [...set.servers, ...set.sentinels].map((n) => n.pid));
  await Promise.all(sets.map((set) => set.stop()));
  for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow(/ESRCH/);
}, 30_000);

/** Writes answered applied (201: each creates its key), and writes accepted (202) checked later. */
const applied = new Map<string, { opId: string; value: string }>();
const accepted = new Map<string, { opId: string; value: string }>();

/** Codes a failover may answer with: retryable 503s. */
const FAILOVER_CODES = [
  'QUEUE_UNAVAILABLE',
  'DATA_UNAVAILABLE',
  'WRITE_NOT_REPLICATED',
  'DATA_NOT_REPLICATED',
];

/** One write to a key of its own, so that its outcome is never muddled by another write. */
async function write(key: string) {
  const value = `v:${key}`;
  const r = await call(s.url, 'PUT', `/v1/keys/${key}`, {
    body: { value },
    headers: { Prefer: 'wait=5' },
  });
  if (r.status === 201) {
    expect(r.body).toMatchObject({ key, value, version: 1, op: { status: 'applied' } });
    applied.set(key, { opId: r.body.op.id as string, value });
  } else if (r.status === 202) {
    expect(r.body.op.status).toMatch(/^(queued|active)$/);
    accepted.set(key, { opId: r.body.op.id as string, value });
  } else {
    expect(r.status, r.text).toBe(503);
    expect(FAILOVER_CODES, r.text).toContain(r.body.code);
    expect(r.headers.get('retry-after'), r.text).toMatch(/^\d+$/);
  }
  return r;
}

async function roleOf(port: number): Promise<unknown[]> {
  const r = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 1 });
  r.on('error', () => undefined);
  try {
    return await r.role();
  } finally {
    r.disconnect();
  }
}

/**
 * SIGKILLs the set's primary while four writers write (one fresh key per write), so that some
 * writes are in flight at the kill; each writer goes on until it has had five writes applied in
 * a row, all within 20 s of the kill. Then restarts the old primary.
 */
async function killPrimaryAndWriteThrough(set: LocalSentinelSet, label: string) {
  for (let n = 0; n < 10; n++) {
    expect((await write(`${label}/before/${String(n)}`)).status).toBe(201);
  }
  const old = await set.primary();
  let killedAt = 0;
  let recoveredMs: number | undefined;
  const answers = new Map<string, number>();
  const writer = async (w: number) => {
    let streak = 0;
    for (let n = 0; streak < 5 || recoveredMs === undefined; n++) {
      const sentAt = Date.now();
      const r = await write(`${label}/during/${String(w)}/${String(n)}`);
      const what = r.status === 503 ? `503 ${String(r.body.code)}` : String(r.status);
      if (killedAt > 0) answers.set(what, (answers.get(what) ?? 0) + 1);
      if (r.status < 202 && killedAt > 0) {
        // Recovery: the first write sent after the kill that is applied (not one in flight).
        if (sentAt > killedAt) recoveredMs ??= Date.now() - killedAt;
        streak++;
      } else {
        streak = 0;
      }
      if (killedAt > 0 && Date.now() - killedAt > 30_000) throw new Error(`${label}: no recovery`);
      if (r.status >= 202) await new Promise((res) => setTimeout(res, 100));
    }
  };
  const writers = Promise.all([0, 1, 2, 3].map(writer));
  await new Promise((res) => setTimeout(res, 300));
  old.child.kill('SIGKILL');
  killedAt = Date.now();
  await writers;
  expect(recoveredMs).toBeLessThan(20_000);
  const now = await set.primary();
  expect(now.port).not.toBe(old.port);
  console.log(
    `${label} primary SIGKILLed: first applied write after ${String(recoveredMs)} ms; answers since the kill: ${JSON.stringify(Object.fromEntries(answers))}`,
  );

  const back = await set.restart(old);
  expect((await roleOf(back.port)).slice(0, 3)).toEqual(['slave', '127.0.0.1', now.port]);
  for (let n = 0; n < 5; n++) {
    expect((await write(`${label}/rejoined/${String(n)}`)).status).toBe(201);
  }
}

/** Every write answered applied reads back with its value, and its receipt still says applied. */
async function everyAppliedWriteHolds() {
  // Accepted writes must end applied too (they were accepted on replicated acceptances).
  for (const [key, w] of accepted) {
    const r = await call(s.url, 'GET', `/v1/ops/${w.opId}`, { headers: { Prefer: 'wait=20' } });
    expect(r.body.op, key).toMatchObject({ status: 'applied' });
    applied.set(key, w);
    accepted.delete(key);
  }
  for (const [key, w] of applied) {
    const r = await call(s.url, 'GET', `/v1/keys/${key}`);
    expect(r.status, key).toBe(200);
    expect(r.body.value, key).toBe(w.value);
    const op = await call(s.url, 'GET', `/v1/ops/${w.opId}`, { headers: { Prefer: 'wait=10' } });
    expect(op.body.op, key).toMatchObject({ id: w.opId, status: 'applied' });
  }
}

it('survives a SIGKILLed queue primary, then a SIGKILLed data primary', async () => {
  await killPrimaryAndWriteThrough(queueSet, 'queue');
  await everyAppliedWriteHolds();
  await killPrimaryAndWriteThrough(dataSet, 'data');
  await everyAppliedWriteHolds();
  expect(applied.size).toBeGreaterThanOrEqual(2 * 20);
}, 90_000);
