import { version } from '../cli/index.ts';
import type { Config, Lifecycle, Logger } from '../core/index.ts';
import {
  createMetrics,
  createRedisSampler,
  type Metrics,
  startMetricsServer,
} from '../metrics/index.ts';
import { memoryProbe, type RedisClient } from '../redis/index.ts';

/** How often each role reads its Redis into the kvq_redis_* gauges. */
const REDIS_SAMPLE_MS = 5000;

/**
 * The process's metrics registry, served at HOST:METRICS_PORT/metrics unless METRICS_PORT is 0.
 * One per process: the roles it runs (both, in `kvq dev`) feed the same registry.
 */
export async function startMetrics(
  config: Config,
  role: string,
  logger: Logger,
  lifecycle: Lifecycle,
): Promise<{ metrics: Metrics; port: number | undefined }> {
  const metrics = createMetrics({ version: version(), role });
  if (config.METRICS_PORT === 0) return { metrics, port: undefined };
  const server = await startMetricsServer({
    host: config.HOST,
    port: config.METRICS_PORT,
    registry: metrics.registry,
  });
  lifecycle.register('metrics', server.close);
  logger.info({ port: server.port }, 'metrics listening');
  return { metrics, port: server.port };
}

/** Samples the queue and data Redis of a role into `metrics` until shutdown (once per process). */
export function watchRedis(
  metrics: Metrics,
  clients: { queue: RedisClient; data: RedisClient },
  lifecycle: Lifecycle,
): void {
  if (watched.has(metrics)) return;
  watched.add(metrics);
  const sampler = createRedisSampler(
    metrics,
    (['queue', 'data'] as const).map((redis) => ({
      redis,
      ping: () => clients[redis].ping(),
      memory: memoryProbe(clients[redis]),
    })),
    REDIS_SAMPLE_MS,
  );
  sampler.start();
  lifecycle.register('redis-metrics', () => sampler.stop());
}

const watched = new WeakSet<Metrics>();
