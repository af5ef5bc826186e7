import { version } from '../cli/index.ts';
import type { Config, Lifecycle, Logger } from '../core/index.ts';
import {
  createMetrics,
  createQueueSampler,
  createRedisSampler,
  type Metrics,
  startMetricsServer,
} from '../metrics/index.ts';
import { createQueueStats, type QueueHandles } from '../queue/index.ts';
import { memoryProbe, type RedisClient } from '../redis/index.ts';
import type { DeadLetters } from '../store/index.ts';

/** How often each role reads its Redis into the kvq_redis_* gauges. */
const REDIS_SAMPLE_MS = 5000;
/** How often the QUEUE_METRICS role reads the queue (a few commands per partition). */
const QUEUE_SAMPLE_MS = 5000;

/**
 * The process's metrics registry, served at HOST:METRICS_PORT/metrics. One per process: the roles
 * it runs (both, in `kvq dev`) feed the same registry. With METRICS_PORT=0 there is none, and
 * nothing is measured: no request pays for counters no one can read.
 */
export async function startMetrics(
  config: Config,
  role: string,
  logger: Logger,
  lifecycle: Lifecycle,
): Promise<{ metrics: Metrics | undefined; port: number | undefined }> {
  if (config.METRICS_PORT === 0) return { metrics: undefined, port: undefined };
  const metrics = createMetrics({ version: version(), role });
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

/**
 * With QUEUE_METRICS, reads the queue's jobs by state, its oldest waiting job and the dead-letter
 * count into `metrics` until shutdown (once per process: in `kvq dev` the API and the worker
 * would both ask).
 */
export function watchQueue(
  config: Config,
  metrics: Metrics | undefined,
  /** Called only when this process is to read the queue. */
  sourceOf: () => {
    queues: QueueHandles;
    connection: RedisClient;
    deadLetters: Pick<DeadLetters, 'size'>;
  },
  lifecycle: Lifecycle,
): void {
  if (!config.QUEUE_METRICS || !metrics || queueWatched.has(metrics)) return;
  queueWatched.add(metrics);
  const source = sourceOf();
  const stats = createQueueStats(source.queues, source.connection);
  const sampler = createQueueSampler(
    metrics,
    config.QUEUE_NAME,
    async () => {
      const [s, deadLetters] = await Promise.all([stats(), source.deadLetters.size()]);
      return { ...s, deadLetters };
    },
    QUEUE_SAMPLE_MS,
  );
  sampler.start();
  lifecycle.register('queue-metrics', () => sampler.stop());
}

const watched = new WeakSet<Metrics>();
const queueWatched = new WeakSet<Metrics>();
