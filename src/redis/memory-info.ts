import type { Redis } from 'ioredis';

import type { MemoryReading } from '../api/index.ts';
import { forEachMaster, type RedisClient } from './clients.ts';

/** used_memory and maxmemory from an `INFO memory` reply (max 0 = no limit). */
export function parseInfoMemory(info: string): MemoryReading {
  const field = (name: string) => {
    const m = new RegExp(`^${name}:(\\d+)\\r?$`, 'm').exec(info);
    if (!m) throw new Error(`INFO memory has no ${name}`);
    return Number(m[1]);
  };
  return { used: field('used_memory'), max: field('maxmemory') };
}

/**
 * Reads `INFO memory` from `redis` (for the write admission, see api/admission.ts). On a cluster
 * every primary is read and the fullest one answers, since any write may land on it.
 */
export function memoryProbe(redis: RedisClient): () => Promise<MemoryReading> {
  return async () => {
    const readings = await forEachMaster(redis, async (m: Redis) =>
      parseInfoMemory(await m.info('memory')),
    );
    return fullest(readings);
  };
}

/** The reading closest to its limit (without limits: the largest used_memory). */
export function fullest(readings: readonly MemoryReading[]): MemoryReading {
  const share = (r: MemoryReading) => (r.max > 0 ? r.used / r.max : 0);
  const [first, ...rest] = readings;
  if (!first) throw new Error('no memory readings');
  return rest.reduce((a, b) => {
    if (share(a) !== share(b)) return share(b) > share(a) ? b : a;
    return b.used > a.used ? b : a;
  }, first);
}
