import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';

import { isTransient, loadConfig } from '../../src/core/index.ts';
import {
  closeClient,
  createRedisClient,
  type LocalSentinelSet,
  type RedisClient,
  startSentinelSet,
  waitReady,
} from '../../src/redis/index.ts';
import { unavailable } from '../../src/store/index.ts';

/**
 * A `redis+sentinel://` URL follows the primary: while the Sentinels fail over a killed primary,
 * commands fail fast with transient errors (503 + Retry-After), then writes reach the new primary
 * within a bound; the old primary comes back as a replica. A replica's READONLY (what a demoted
 * primary answers) and a primary's NOREPLICAS are transient too, and READONLY makes the client
 * reconnect.
 */
const config = loadConfig({ REDIS_COMMAND_TIMEOUT_MS: '500', REDIS_CONNECT_TIMEOUT_MS: '500' });
let set: LocalSentinelSet;
let client: RedisClient;

beforeAll(async () => {
  set = await startSentinelSet({ replicas: 2, sentinels: 3, downAfterMs: 1000 });
  client = createRedisClient(set.url, 'command', config, 'test-sentinel');
  expect(await waitReady(client, 5000)).toBe(true);
}, 60_000);

afterAll(async () => {
  await closeClient(client);
  const pids = [...set.servers, ...set.sentinels].map((s) => s.pid);
  await set.stop();
  for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow(/ESRCH/);
}, 30_000);

function direct(port: number): Redis {
  const r = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 1, lazyConnect: true });
  r.on('error', () => undefined);
  return r;
}

/**
 * Writes until one is accepted (within 15 s); every failure on the way must be transient and
 * answer 503 + Retry-After. Returns the failures.
 */
async function writeUntilAccepted(key: string, value: string): Promise<unknown[]> {
  const failures: unknown[] = [];
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      await client.set(key, value);
      break;
    } catch (e) {
      failures.push(e);
      if (Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  for (const e of failures) {
    expect(isTransient(e), String(e)).toBe(true);
    expect(unavailable(e, 'DATA_UNAVAILABLE')).toMatchObject({
      status: 503,
      headers: { 'retry-after': '1' },
    });
  }
  return failures;
}

async function roleOf(port: number): Promise<string> {
  const r = direct(port);
  try {
    await r.connect();
    return String((await r.role())[0]);
  } catch {
    return 'unknown';
  } finally {
    r.disconnect();
  }
}

/** A server that says it is a replica with its link up. */
async function aReplica() {
  for (;;) {
    for (const s of set.servers) {
      const r = direct(s.port);
      try {
        await r.connect();
        if ((await r.info('replication')).includes('master_link_status:up')) return s;
      } catch {
        // dead or restarting
      } finally {
        r.disconnect();
      }
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

it('a killed primary: 503s while the Sentinels fail over, then writes reach the new primary', async () => {
  await client.set('before', '1');
  // Both replicas have it before the primary dies.
  expect(await (client as Redis).wait(2, 2000)).toBe(2);
  const old = await set.primary();
  old.child.kill('SIGKILL');

  const failures = await writeUntilAccepted('after', '2');
  expect(failures.length).toBeGreaterThan(0);
  const now = await set.primary();
  expect(now.port).not.toBe(old.port);
  expect(await client.get('before')).toBe('1');

  // The old primary, restarted, rejoins as a replica of the new one and gets the new writes.
  const back = await set.restart(old);
  const r = direct(back.port);
  try {
    await r.connect();
    expect((await r.role()).slice(0, 3)).toEqual(['slave', '127.0.0.1', now.port]);
    await expect.poll(() => r.get('after'), { timeout: 5000 }).toBe('2');
  } finally {
    r.disconnect();
  }
}, 40_000);

it('a primary demoted while the client is connected to it: writes reach the new primary', async () => {
  const old = await set.primary();
  const sentinel = direct(set.sentinels[0]!.port);
  try {
    await sentinel.connect();
    await sentinel.call('SENTINEL', 'FAILOVER', set.masterName);
  } finally {
    sentinel.disconnect();
  }
  // Until the Sentinels have demoted the old primary it still takes writes (Redis replicates
  // asynchronously: what it takes in that window is lost, see docs/topologies.md). Once it is a
  // replica it answers READONLY: the client must not keep writing to it but reconnect.
  await expect.poll(() => roleOf(old.port), { timeout: 15_000 }).toBe('slave');
  const now = await set.primary();
  expect(now.port).not.toBe(old.port);
  await writeUntilAccepted('demoted', '3');
  const r = direct(now.port);
  try {
    await r.connect();
    expect(await r.get('demoted')).toBe('3');
  } finally {
    r.disconnect();
  }
}, 30_000);

it('a write to a replica answers READONLY: transient, and the client reconnects', async () => {
  const replica = await aReplica();
  const c = createRedisClient(replica.url, 'command', config, 'test-readonly');
  try {
    expect(await waitReady(c, 5000)).toBe(true);
    const reconnecting = new Promise((resolve) => c.once('reconnecting', resolve));
    const err = await c.set('x', '1').then(
      () => new Error('accepted'),
      (e: unknown) => e as Error,
    );
    expect(err.message).toMatch(/^READONLY/);
    expect(unavailable(err, 'DATA_UNAVAILABLE')).toMatchObject({ status: 503 });
    await reconnecting;
  } finally {
    await closeClient(c);
  }
});

it('a primary short of min-replicas-to-write answers NOREPLICAS: transient', async () => {
  const admin = async (value: string) => {
    // Every server (replicas ignore it), so whichever is primary refuses.
    for (const s of set.servers) {
      const r = direct(s.port);
      try {
        await r.connect();
        await r.config('SET', 'min-replicas-to-write', value);
      } finally {
        r.disconnect();
      }
    }
  };
  await admin('5');
  try {
    const err = await client.set('y', '1').then(
      () => new Error('accepted'),
      (e: unknown) => e as Error,
    );
    expect(err.message).toMatch(/^NOREPLICAS/);
    expect(unavailable(err, 'DATA_UNAVAILABLE')).toMatchObject({ status: 503 });
  } finally {
    await admin('0');
  }
});
