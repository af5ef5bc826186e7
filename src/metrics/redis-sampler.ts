import type { Metrics } from './metrics.ts';
import { createSampler, type Sampler } from './sampler.ts';

/** How one Redis is read: a PING and its memory (used_memory, maxmemory; max 0 = no limit). */
export interface RedisProbe {
  redis: 'queue' | 'data';
  ping: () => Promise<unknown>;
  memory: () => Promise<{ used: number; max: number }>;
}

/**
 * Reads each Redis every `intervalMs` (and once at `start`) into the kvq_redis_* gauges. A Redis
 * that does not answer reads as down; its other gauges keep their last values.
 */
export function createRedisSampler(
  metrics: Pick<Metrics, 'recordRedis'>,
  probes: readonly RedisProbe[],
  intervalMs: number,
): Sampler {
  const sample = async () => {
    await Promise.all(
      probes.map(async (p) => {
        try {
          const started = performance.now();
          await p.ping();
          const pingSeconds = (performance.now() - started) / 1000;
          const { used, max } = await p.memory();
          metrics.recordRedis(p.redis, { pingSeconds, usedBytes: used, maxBytes: max });
        } catch {
          metrics.recordRedis(p.redis, null);
        }
      }),
    );
  };
  return createSampler(sample, intervalMs);
}
