import { afterAll, beforeAll, expect, it } from 'vitest';

import type { RedisServer } from '../../src/redis/index.ts';
import { type ReplicatedStack, startReplicatedStack } from '../helpers/replicated-pair.ts';
import { call, type Stack } from '../helpers/stack.ts';

/**
 * With MIN_REPLICA_ACKS=1, an apply that ran while the data replica lagged is retried and found
 * `already` applied. The op is then reported applied, but the receipt should still say what the
 * apply did: the key was created (201, not 200), and when it expires. (The Sentinel failover
 * test once saw a fresh key's PUT answered 200 after a data failover: the `already` outcome was
 * settled without the apply's details. apply.lua and resolve.lua now report them.)
 */
let r: ReplicatedStack;
let dataReplica: RedisServer;
let s: Stack;

beforeAll(async () => {
  r = await startReplicatedStack('already', {
    MIN_REPLICA_ACKS: '1',
    REPLICA_ACK_TIMEOUT_MS: '300',
    JOB_BACKOFF_MS: '100',
  });
  s = r.stack;
  dataReplica = r.data.replica;
}, 30_000);
afterAll(async () => {
  await r.stop();
});

it('a PUT with a TTL applied on a retry answers 201 with its expiry', async () => {
  dataReplica.child.kill('SIGSTOP');
  const answer = call(s.url, 'PUT', '/v1/keys/fresh', {
    body: { value: 'f', ttlSeconds: 600 },
    headers: { Prefer: 'wait=15' },
  });
  try {
    // The first apply runs on the primary; its WAIT falls short while the replica is stopped.
    await new Promise((r) => setTimeout(r, 1500));
  } finally {
    dataReplica.child.kill('SIGCONT');
  }
  const w = await answer;
  // What the data Redis holds is right either way.
  const read = await call(s.url, 'GET', '/v1/keys/fresh');
  expect(read.body).toMatchObject({ value: 'f', version: 1 });
  expect(Date.parse(read.body.expiresAt as string)).toBeGreaterThan(Date.now());
  expect(w.body.op).toMatchObject({ status: 'applied', version: 1 });
  expect(w.body.op.attempts).toBeGreaterThan(1);
  // The answer and the receipt say what the apply did.
  expect(w.status).toBe(201);
  expect(w.body.expiresAt).toBe(read.body.expiresAt);
  expect(w.body.createdAt).toBe(read.body.createdAt);
  const op = await call(s.url, 'GET', `/v1/ops/${w.body.op.id as string}`);
  expect(op.body.op.expiresAt).toBe(read.body.expiresAt);
}, 30_000);
