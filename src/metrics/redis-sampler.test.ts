import { describe, expect, it } from 'vitest';

import { createMetrics } from './metrics.ts';
import { createRedisSampler } from './redis-sampler.ts';

async function value(metrics: ReturnType<typeof createMetrics>, name: string, redis: string) {
  const m = await metrics.registry.getSingleMetric(name)?.get();
  return m?.values.find((v) => v.labels.redis === redis)?.value;
}

describe('Redis sampler', () => {
  it('records a reading per Redis, and a Redis that does not answer as down', async () => {
    const metrics = createMetrics({ version: '0.0.0', role: 'test' });
    let dataUp = true;
    const sampler = createRedisSampler(
      metrics,
      [
        {
          redis: 'queue',
          ping: () => Promise.resolve('PONG'),
          memory: () => Promise.resolve({ used: 10, max: 100 }),
        },
        {
          redis: 'data',
          ping: () =>
            dataUp ? Promise.resolve('PONG') : Promise.reject(new Error('connection refused')),
          memory: () => Promise.resolve({ used: 20, max: 0 }),
        },
      ],
      60_000,
    );
    await sampler.sample();
    expect(await value(metrics, 'kvq_redis_up', 'queue')).toBe(1);
    expect(await value(metrics, 'kvq_redis_up', 'data')).toBe(1);
    expect(await value(metrics, 'kvq_redis_memory_used_bytes', 'queue')).toBe(10);
    expect(await value(metrics, 'kvq_redis_maxmemory_bytes', 'queue')).toBe(100);
    expect(await value(metrics, 'kvq_redis_maxmemory_bytes', 'data')).toBe(0);

    dataUp = false;
    await sampler.sample();
    expect(await value(metrics, 'kvq_redis_up', 'data')).toBe(0);
    expect(await value(metrics, 'kvq_redis_up', 'queue')).toBe(1);
  });
});
