/**
 * Data-Redis bytes per key: N kvq records (applied through the real Lua script), N tombstones and
 * N plain SETs of the same value, each in a fresh redis-server on loopback.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Redis } from 'ioredis';

import { keyLayout, loadConfig } from '../src/core/index.ts';
import { startRedisServer } from '../src/redis/index.ts';
import { createRecordStore } from '../src/store/index.ts';

async function usedMemory(redis: Redis): Promise<number> {
  const info = await redis.info('memory');
  return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? 0);
}

async function measure(n: number, fill: (redis: Redis) => Promise<void>): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'kvq-mem-'));
  const server = await startRedisServer({ dir, appendonly: false });
  const redis = new Redis(server.url);
  try {
    const before = await usedMemory(redis);
    await fill(redis);
    return ((await usedMemory(redis)) - before) / n;
  } finally {
    redis.disconnect();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function batched(n: number, fn: (i: number) => Promise<unknown>) {
  for (let i = 0; i < n; i += 500) {
    const batch: Promise<unknown>[] = [];
    for (let j = i; j < Math.min(n, i + 500); j++) batch.push(fn(j));
    await Promise.all(batch);
  }
}

export async function bytesPerKey(n: number, valueBytes: number) {
  const value = JSON.stringify('v'.repeat(Math.max(0, valueBytes - 2)));
  const keyOf = (i: number) => `user:${String(i).padStart(8, '0')}`;
  // The default layout, as a deployment without KEY_PREFIX / QUEUE_NAME / PARTITIONS has it.
  const defaults = loadConfig({});
  const layout = keyLayout({
    prefix: defaults.KEY_PREFIX,
    queueName: defaults.QUEUE_NAME,
    partitions: defaults.PARTITIONS,
  });
  const store = (redis: Redis) => createRecordStore({ redis, layout, fenceWindowMs: 86_400_000 });
  const plain = await measure(n, (redis) => batched(n, (i) => redis.set(keyOf(i), value)));
  const kvq = await measure(n, (redis) => {
    const s = store(redis);
    return batched(n, (i) =>
      s.apply({
        opId: layout.newOpId(keyOf(i)),
        key: keyOf(i),
        type: 'put',
        version: 1,
        valueJson: value,
        acceptedAt: Date.now(),
        deadline: Date.now() + 60_000,
      }),
    );
  });
  const tombstone = await measure(n, (redis) => {
    const s = store(redis);
    return batched(n, (i) =>
      s.apply({
        opId: layout.newOpId(keyOf(i)),
        key: keyOf(i),
        type: 'delete',
        version: 1,
        acceptedAt: Date.now(),
        deadline: Date.now() + 60_000,
      }),
    );
  });
  return { plain, kvq, tombstone };
}
