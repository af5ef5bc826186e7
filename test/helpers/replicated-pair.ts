import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Redis } from 'ioredis';

import { type RedisServer, startRedisServer } from '../../src/redis/index.ts';
import { eventually, type Stack, startStack } from './stack.ts';

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

export interface ReplicatedStack {
  stack: Stack;
  queue: { primary: RedisServer; replica: RedisServer };
  data: { primary: RedisServer; replica: RedisServer };
  /** Stops kvq, resumes any stopped server, ends all four and removes their files. */
  stop(): Promise<void>;
}

/** A kvq stack whose queue and data Redis are each a primary with one in-sync replica. */
export async function startReplicatedStack(
  name: string,
  env: Record<string, string>,
): Promise<ReplicatedStack> {
  const dir = mkdtempSync(join(tmpdir(), `kvq-${name}-`));
  const servers: RedisServer[] = [];
  const end = async () => {
    for (const x of servers) {
      x.child.kill('SIGCONT');
      await x.stop();
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const queue = await startReplicatedPair(dir, 'queue');
    servers.push(queue.primary, queue.replica);
    const data = await startReplicatedPair(dir, 'data');
    servers.push(data.primary, data.replica);
    const stack = await startStack({ queueUrl: queue.primary.url, kvUrl: data.primary.url, env });
    return {
      stack,
      queue,
      data,
      async stop() {
        await stack.stop();
        await end();
      },
    };
  } catch (err) {
    await end();
    throw err;
  }
}
