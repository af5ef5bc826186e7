/**
 * Data-Redis bytes per key: N kvq records (applied through the real Lua script) against N plain
 * SETs of the same value, each in a fresh redis-server on loopback. Prints a markdown table.
 * Usage: node bench/memory-per-key.ts [N=100000] [valueBytes=32]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Redis } from 'ioredis';

import { startRedisServer } from '../src/bin/redis-server.ts';
import { createRecordStore } from '../src/store/index.ts';

const N = Number(process.argv[2] ?? 100_000);
const VALUE_BYTES = Number(process.argv[3] ?? 32);
const value = JSON.stringify('v'.repeat(Math.max(0, VALUE_BYTES - 2)));
const keyOf = (i: number) => `user:${String(i).padStart(8, '0')}`;

async function usedMemory(redis: Redis): Promise<number> {
  const info = await redis.info('memory');
  return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? 0);
}

async function measure(fill: (redis: Redis) => Promise<void>): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'kvq-mem-'));
  const server = await startRedisServer({ dir, appendonly: false });
  const redis = new Redis(server.url);
  try {
    const before = await usedMemory(redis);
    await fill(redis);
    return ((await usedMemory(redis)) - before) / N;
  } finally {
    redis.disconnect();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function batched(fn: (i: number) => Promise<unknown>) {
  for (let i = 0; i < N; i += 500) {
    const batch: Promise<unknown>[] = [];
    for (let j = i; j < Math.min(N, i + 500); j++) batch.push(fn(j));
    await Promise.all(batch);
  }
}

const plain = await measure((redis) => batched((i) => redis.set(keyOf(i), value)));
const kvq = await measure((redis) => {
  const store = createRecordStore({ redis, prefix: 'kvq:', fenceWindowMs: 86_400_000 });
  return batched((i) =>
    store.apply({
      key: keyOf(i),
      type: 'put',
      version: 1,
      valueJson: value,
      acceptedAt: Date.now(),
    }),
  );
});
const tomb = await measure(async (redis) => {
  const store = createRecordStore({ redis, prefix: 'kvq:', fenceWindowMs: 86_400_000 });
  await batched((i) =>
    store.apply({ key: keyOf(i), type: 'delete', version: 1, acceptedAt: Date.now() }),
  );
});

console.log(`| ${String(N)} keys, ${String(VALUE_BYTES)}-byte JSON value | bytes per key |`);
console.log('| --- | ---: |');
console.log(`| plain SET | ${plain.toFixed(0)} |`);
console.log(`| kvq live record (hash + listing index) | ${kvq.toFixed(0)} |`);
console.log(`| kvq tombstone (version only, for the fencing window) | ${tomb.toFixed(0)} |`);
console.log(`| ratio kvq / plain | ${(kvq / plain).toFixed(2)}x |`);
