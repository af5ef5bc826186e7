import { randomBytes } from 'node:crypto';

import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';

import { AppError, keyLayout, loadConfig, slotOf } from '../../src/core/index.ts';
import {
  closeClient,
  createRedisClient,
  type LocalCluster,
  type RedisClient,
  type RedisServer,
  startRedisCluster,
  waitReady,
} from '../../src/redis/index.ts';
import { createRecordStore, type RecordStore, unavailable } from '../../src/store/index.ts';

/**
 * MIN_REPLICA_ACKS = 1 on a three-primary cluster: a replicated read's WAIT goes to the primary of
 * its key's slot, so a stalled replica of one primary refuses only the reads of that primary's
 * keys (even when they share an event-loop turn with others), and a failover of the key's primary
 * is refused as unavailable (a 503), never as an error a client cannot retry.
 */
const config = loadConfig({ REDIS_COMMAND_TIMEOUT_MS: '1500' });
const layout = keyLayout({
  prefix: `rc${randomBytes(3).toString('hex')}:`,
  queueName: 'unused',
  partitions: 8,
});
let cluster: LocalCluster;
let client: RedisClient;
let records: RecordStore;

beforeAll(async () => {
  cluster = await startRedisCluster({ primaries: 3, replicasPer: 1, nodeTimeoutMs: 1000 });
  client = createRedisClient(cluster.url, 'command', config, 'test-replicated-reads');
  if (!(await waitReady(client, 10_000))) throw new Error('cluster client not ready in 10 s');
  records = createRecordStore({
    redis: client,
    layout,
    fenceWindowMs: 60_000,
    minReplicaAcks: 1,
    replicaAckTimeoutMs: 300,
  });
}, 60_000);
afterAll(async () => {
  await closeClient(client);
  await cluster.stop();
});

/** A user key of each partition, with the port of the primary that serves it now. */
async function keysByPrimary(): Promise<Map<number, string[]>> {
  const out = new Map<number, string[]>();
  for (let i = 0; i < 200 && out.size < 3; i++) {
    const key = `k${String(i)}`;
    const port = (await cluster.primaryOf(layout.data(layout.of(key)).record(key))).port;
    out.set(port, [...(out.get(port) ?? []), key]);
  }
  return out;
}

async function replicaOf(primary: RedisServer): Promise<RedisServer> {
  for (const n of cluster.nodes) {
    if (n.port === primary.port) continue;
    const r = new Redis({ host: '127.0.0.1', port: n.port, maxRetriesPerRequest: 1 });
    try {
      const info = await r.info('replication');
      if (info.includes(`master_port:${String(primary.port)}`)) return n;
    } finally {
      r.disconnect();
    }
  }
  throw new Error(`no replica of ${String(primary.port)}`);
}

it('a stalled replica refuses only the reads of its primary, in a turn shared with others', async () => {
  const byPrimary = await keysByPrimary();
  expect(byPrimary.size).toBe(3);
  const [[stalledPort, stalledKeys], ...others] = [...byPrimary.entries()] as [
    [number, string[]],
    ...[number, string[]][],
  ];
  const otherKeys = others.flatMap(([, keys]) => keys);
  const all = [...stalledKeys, ...otherKeys];
  expect(await Promise.all(all.map((k) => records.replicated(k)))).toEqual(all.map(() => true));
  const primary = cluster.nodes.find((n) => n.port === stalledPort) as RedisServer;
  const replica = await replicaOf(primary);
  replica.child.kill('SIGSTOP');
  try {
    const got = await Promise.all(all.map((k) => records.replicated(k)));
    expect(got).toEqual([...stalledKeys.map(() => false), ...otherKeys.map(() => true)]);
  } finally {
    replica.child.kill('SIGCONT');
  }
  await expect
    .poll(() => Promise.all(stalledKeys.map((k) => records.replicated(k))), { timeout: 10_000 })
    .toEqual(stalledKeys.map(() => true));
});

it('a failover of the key primary: each replicated read is answered, refused, or unavailable (503)', async () => {
  const key = 'failover-read';
  const primary = await cluster.primaryOf(layout.data(layout.of(key)).record(key));
  const replica = await replicaOf(primary);
  const outcomes = new Set<string>();
  const running = { now: true };
  const reader = (async () => {
    while (running.now) {
      try {
        await records.get(key);
        outcomes.add(String(await records.replicated(key)));
      } catch (err) {
        // What the API would render: an AppError (503 DATA_UNAVAILABLE), never a raw error (500).
        const shown = unavailable(err, 'DATA_UNAVAILABLE');
        outcomes.add(shown instanceof AppError ? String(shown.status) : `raw: ${String(err)}`);
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  const r = new Redis({ host: '127.0.0.1', port: replica.port, maxRetriesPerRequest: 1 });
  try {
    await r.cluster('FAILOVER');
    await expect
      .poll(async () => (await cluster.primaryOf(layout.data(layout.of(key)).record(key))).port, {
        timeout: 10_000,
      })
      .toBe(replica.port);
    await new Promise((res) => setTimeout(res, 1000));
  } finally {
    running.now = false;
    await reader;
    r.disconnect();
  }
  expect([...outcomes].filter((o) => o.startsWith('raw'))).toEqual([]);
  await expect.poll(() => records.replicated(key), { timeout: 10_000 }).toBe(true);
}, 40_000);

it('a slot mid-migration: a record the target node answers (ASK) is not confirmed by the source replicas', async () => {
  const key = 'migrating-read';
  const recordKey = layout.data(layout.of(key)).record(key);
  const now = Date.now();
  await records.apply({
    opId: 'm1',
    key,
    type: 'put',
    version: 1,
    valueJson: '1',
    acceptedAt: now,
    deadline: now + 60_000,
  });
  expect(await records.getReplicated(key)).toMatchObject({
    replicated: true,
    record: { version: 1 },
  });
  const source = await cluster.primaryOf(recordKey);
  const target = (await cluster.primaries()).find((n) => n.port !== source.port) as RedisServer;
  const targetReplica = await replicaOf(target);
  const src = new Redis({ host: '127.0.0.1', port: source.port, maxRetriesPerRequest: 1 });
  const dst = new Redis({ host: '127.0.0.1', port: target.port, maxRetriesPerRequest: 1 });
  targetReplica.child.kill('SIGSTOP');
  try {
    const slot = slotOf(recordKey);
    await dst.cluster('SETSLOT', slot, 'IMPORTING', await src.cluster('MYID'));
    await src.cluster('SETSLOT', slot, 'MIGRATING', await dst.cluster('MYID'));
    // The record moves to the target, whose replica is stalled: only the target holds it now.
    await src.migrate('127.0.0.1', target.port, '', 0, 5000, 'KEYS', recordKey);
    // A read through the cluster client follows ASK to the target, while the WAIT would go to
    // the source (the slot map still names it), whose replicas say nothing about the target's.
    expect((await records.get(key))?.version).toBe(1);
    expect((await records.getReplicated(key)).replicated).toBe(false);
  } finally {
    targetReplica.child.kill('SIGCONT');
    src.disconnect();
    dst.disconnect();
  }
}, 30_000);
