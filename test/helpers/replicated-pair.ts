import { join } from 'node:path';

import { Redis } from 'ioredis';

import { type RedisServer, startRedisServer } from '../../src/redis/index.ts';
import { eventually } from './stack.ts';

/** A primary and one replica (no persistence) under `dir/<name>-p|r`, once the replica is in sync. */
export async function startReplicatedPair(
  dir: string,
  name: string,
): Promise<{ primary: RedisServer; replica: RedisServer }> {
  const primary = await startRedisServer({ dir: join(dir, `${name}-p`), appendonly: false });
  const replica = await startRedisServer({
    dir: join(dir, `${name}-r`),
    appendonly: false,
    extraArgs: ['--replicaof', '127.0.0.1', String(primary.port)],
  });
  const r = new Redis(replica.url);
  try {
    const up = async () => (await r.info('replication')).includes('master_link_status:up');
    if (!(await eventually(up, 10_000, 50))) {
      await Promise.all([primary.stop(), replica.stop()]);
      throw new Error(`replica of ${name} did not come in sync in 10 s`);
    }
  } finally {
    r.disconnect();
  }
  return { primary, replica };
}
