import type { Redis } from 'ioredis';

/**
 * Writes filler strings (outside kvq's keys) until the Redis refuses them with OOM, then lowers
 * its maxmemory below what it uses: the refused command's own buffers are freed after the refusal,
 * which would otherwise leave room for the next small write.
 */
export async function fillUntilFull(redis: Redis): Promise<void> {
  const chunk = 'x'.repeat(32 * 1024);
  for (let i = 0; ; i++) {
    try {
      await redis.set(`filler:${String(i)}`, chunk);
    } catch (err) {
      if (/^OOM\b/.test((err as Error).message)) break;
      throw err;
    }
  }
  const used = Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1]);
  await redis.config('SET', 'maxmemory', String(used - 256 * 1024));
}

/** Longer than two refreshes of the API's admission readings (about one a second). */
export const ADMISSION_SEES_IT_MS = 2500;
