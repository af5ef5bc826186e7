import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';

import { loadConfig } from '../../src/core/index.ts';
import {
  closeClient,
  createRedisClient,
  forEachMaster,
  type LocalCluster,
  memoryProbe,
  type RedisClient,
  startRedisCluster,
} from '../../src/redis/index.ts';
import { unavailable } from '../../src/store/index.ts';

/**
 * A `redis+cluster://` URL gets an ioredis Cluster: commands reach the primary of each key's slot,
 * sharded pub/sub works, per-primary work visits every primary, a stalled primary fails its
 * commands fast (503), and the launcher leaves no process behind.
 */
const TIMEOUT_MS = 400;
const config = loadConfig({ REDIS_COMMAND_TIMEOUT_MS: String(TIMEOUT_MS) });
let cluster: LocalCluster;
let client: RedisClient;

beforeAll(async () => {
  cluster = await startRedisCluster({ primaries: 3, replicasPer: 1 });
  client = createRedisClient(cluster.url, 'command', config, 'test-cluster');
}, 60_000);

afterAll(async () => {
  await closeClient(client);
  const pids = cluster.nodes.map((n) => n.pid);
  await cluster.stop();
  // No leftovers: every node the launcher started is gone.
  for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow(/ESRCH/);
});

it('writes and reads keys whose slots live on different primaries', async () => {
  expect(client).toBeInstanceOf(Cluster);
  const keys = Array.from({ length: 30 }, (_, i) => `k:${String(i)}`);
  const owners = new Set(
    await Promise.all(keys.map(async (k) => (await cluster.primaryOf(k)).port)),
  );
  expect(owners.size).toBe(3);
  await Promise.all(keys.map((k, i) => client.set(k, String(i))));
  expect(await Promise.all(keys.map((k) => client.get(k)))).toEqual(keys.map((_, i) => String(i)));
});

it('delivers SPUBLISH to an SSUBSCRIBEr through the sharded subscribers', async () => {
  const sub = createRedisClient(cluster.url, 'subscriber', config, 'test-sub') as Cluster;
  try {
    const channels = ['ch:a', 'ch:b', 'ch:c', 'ch:d'];
    const got: [string, string][] = [];
    sub.on('smessage', (channel: string, message: string) => got.push([channel, message]));
    for (const ch of channels) await sub.ssubscribe(ch);
    for (const ch of channels) await client.spublish(ch, `hello ${ch}`);
    await expect.poll(() => got.length, { timeout: 5000 }).toBe(channels.length);
    expect(got.sort()).toEqual(channels.map((ch) => [ch, `hello ${ch}`]));
  } finally {
    await closeClient(sub);
  }
});

it('forEachMaster visits each primary once, and the memory probe reads them all', async () => {
  const ports = await forEachMaster(client, async (m) => {
    const info = await m.info('server');
    return Number(/tcp_port:(\d+)/.exec(info)?.[1]);
  });
  const primaries = (await cluster.primaries()).map((n) => n.port);
  expect(ports.sort()).toEqual(primaries.sort());
  const reading = await memoryProbe(client)();
  expect(reading.used).toBeGreaterThan(0);
});

it('a stalled primary fails its commands within the stall bound, as a 503', async () => {
  const node = await cluster.primaryOf('stall-me');
  node.child.kill('SIGSTOP');
  try {
    const started = Date.now();
    const err = await client.get('stall-me').then(
      () => new Error('answered'),
      (e: unknown) => e as Error,
    );
    expect(err.message).toMatch(/Command timed out/);
    expect(Date.now() - started).toBeLessThan(TIMEOUT_MS * 1.25 + 1000);
    expect(unavailable(err, 'DATA_UNAVAILABLE')).toMatchObject({
      status: 503,
      headers: { 'retry-after': '1' },
    });
  } finally {
    node.child.kill('SIGCONT');
  }
  // Answers again once the primary does.
  await expect.poll(() => client.get('k:1').catch(() => 'not yet'), { timeout: 10_000 }).toBe('1');
});

it('a killed primary: its replica takes the slots, and the restarted node rejoins as a replica', async () => {
  const key = 'failover-me';
  const old = await cluster.primaryOf(key);
  // Written on the slot's primary itself, so that WAIT can say its replica has it.
  const direct = new Redis({ host: '127.0.0.1', port: old.port, maxRetriesPerRequest: 1 });
  try {
    await direct.set(key, 'v');
    expect(await direct.wait(1, 2000)).toBe(1);
  } finally {
    direct.disconnect();
  }
  old.child.kill('SIGKILL');
  await expect
    .poll(async () => (await cluster.primaryOf(key)).port, { timeout: 15_000, interval: 200 })
    .not.toBe(old.port);
  await expect.poll(() => client.get(key).catch(() => 'not yet'), { timeout: 10_000 }).toBe('v');
  const back = await cluster.restart(old);
  expect(back.port).toBe(old.port);
  expect(back.pid).not.toBe(old.pid);
  expect((await cluster.primaries()).map((n) => n.port)).not.toContain(back.port);
}, 40_000);
