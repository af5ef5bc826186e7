import type { Redis } from 'ioredis';

import type { MemoryReading } from '../api/index.ts';

/** used_memory and maxmemory from an `INFO memory` reply (max 0 = no limit). */
export function parseInfoMemory(info: string): MemoryReading {
  const field = (name: string) => {
    const m = new RegExp(`^${name}:(\\d+)\\r?$`, 'm').exec(info);
    if (!m) throw new Error(`INFO memory has no ${name}`);
    return Number(m[1]);
  };
  return { used: field('used_memory'), max: field('maxmemory') };
}

/** Reads `INFO memory` from `redis` (for the write admission, see api/admission.ts). */
export function memoryProbe(redis: Redis): () => Promise<MemoryReading> {
  return async () => parseInfoMemory(await redis.info('memory'));
}
