import type { Job, Worker } from 'bullmq';

import type { Config, JobPayload, Lifecycle, Logger, Tracer } from '../core/index.ts';
import type { Metrics } from '../metrics/index.ts';
import { createJobSource, createPartitionWorkers, createQueueHandles } from '../queue/index.ts';
import { closeClient, createRedisClient } from '../redis/index.ts';
import {
  createProcessor,
  createReaper,
  createReconciler,
  createSettler,
  DEFAULT_IN_JOB_RETRY,
  instrumentProcessor,
  type ProcessResult,
  traceApply,
  withJobContext,
} from '../workers/index.ts';
import { startHealthServer } from './health-server.ts';
import { watchQueue, watchRedis } from './metrics.ts';
import { awaitRedis } from './redis-reachability.ts';
import { createStores, enforcePartitionCount } from './stores.ts';

export interface WorkerHandle {
  /** One BullMQ worker per partition. */
  workers: Worker<JobPayload, ProcessResult>[];
}

/** Composition root of the worker role. Registers its closers on `lifecycle`. */
export async function startWorker(
  config: Config,
  urls: { queueUrl: string; kvUrl: string },
  logger: Logger,
  lifecycle: Lifecycle,
  metrics?: Metrics,
  tracer?: Tracer,
): Promise<WorkerHandle> {
  const blocking = createRedisClient(urls.queueUrl, 'blocking', config, 'worker-bullmq');
  const queueRedis = createRedisClient(urls.queueUrl, 'command', config, 'worker-queue');
  const kvRedis = createRedisClient(urls.kvUrl, 'command', config, 'worker-data');
  lifecycle.register('redis', async () => {
    await Promise.all([closeClient(queueRedis), closeClient(kvRedis), closeClient(blocking)]);
  });
  await Promise.all([
    awaitRedis(queueRedis, 'queue', urls.queueUrl, 5000, logger, 'retrying'),
    awaitRedis(kvRedis, 'data', urls.kvUrl, 5000, logger, 'retrying'),
  ]);

  const { layout, ledger, records, deadLetters } = createStores(config, queueRedis, kvRedis);
  await enforcePartitionCount(queueRedis, layout, 'queue', logger, lifecycle);
  await enforcePartitionCount(kvRedis, layout, 'data', logger, lifecycle);
  const retry = DEFAULT_IN_JOB_RETRY;
  const settler = createSettler({ ledger, records, logger, retry, metrics });
  // Each job runs with its request id on every log line and, traced, in its own span.
  const processor = withJobContext(
    instrumentProcessor(
      createProcessor({
        metrics,
        records: traceApply(records, tracer),
        ledger,
        logger,
        retry,
        settler,
        // An apply may still run this long after it is sent (apply.lua refuses later); twice the
        // command timeout, so that a slow but healthy Redis is not mistaken for a stalled one.
        applyBudgetMs: Math.max(3000, 2 * config.REDIS_COMMAND_TIMEOUT_MS),
      }),
      metrics,
    ),
    { logger, tracer },
  );

  const consumers = createPartitionWorkers<JobPayload, ProcessResult>({
    layout,
    connection: blocking,
    processor,
    concurrency: config.WORKER_CONCURRENCY,
    lockDurationMs: config.WORKER_LOCK_MS,
    stalledIntervalMs: config.WORKER_STALLED_INTERVAL_MS,
  });
  // BullMQ's fetch loop reports every failed attempt to reach the queue Redis (hundreds a second
  // while it is full or down): log the first, then a count at most every 5 s.
  let lastErrorLog = 0;
  let suppressed = 0;
  const onError = (err: Error) => {
    const now = Date.now();
    if (now - lastErrorLog < 5000) {
      suppressed++;
      return;
    }
    logger.warn({ err, suppressed }, 'worker error');
    lastErrorLog = now;
    suppressed = 0;
  };
  consumers.onError(onError);
  if (metrics) {
    metrics.addWorkerConcurrency(consumers.perPartition * layout.count);
    watchRedis(metrics, { queue: queueRedis, data: kvRedis }, lifecycle);
    watchQueue(
      config,
      metrics,
      () => {
        const queues = createQueueHandles(layout, queueRedis);
        lifecycle.register('metrics-queue', () => queues.close());
        return { queues, connection: queueRedis, deadLetters };
      },
      lifecycle,
    );
  }
  // The failed set holds only final failures (a retry goes back to delayed/wait). The reconciler
  // dead-letters them; this handler does it at once, the periodic tick covers crashed processes.
  const jobs = createJobSource(layout, queueRedis);
  lifecycle.register('admin-queue', () => jobs.close());
  const reconciler = createReconciler({
    ledger,
    jobs,
    settler,
    logger,
    intervalMs: config.RECONCILE_INTERVAL_MS,
    orphanAgeMs: config.ORPHAN_AGE_MS,
  });
  const onFailed = (job: Job<JobPayload, ProcessResult> | undefined, err: Error) => {
    if (!job?.id) return;
    const id = job.id;
    void (async () => {
      if (!(await job.isFailed())) return;
      await reconciler.deadLetter({
        id,
        data: job.data,
        failedReason: job.failedReason || err.message,
        attemptsMade: job.attemptsMade,
      });
    })().catch((e: unknown) => {
      logger.warn({ err: e, jobId: id }, 'dead-lettering deferred to the reconciler');
    });
  };
  consumers.onFailed(onFailed);
  reconciler.start();
  lifecycle.register('reconciler', () => reconciler.stop());

  const reaper = createReaper({ records, logger, intervalMs: 1000 });
  reaper.start();
  lifecycle.register('reaper', () => reaper.stop());
  lifecycle.register('worker', async () => {
    // Stop fetching and let in-flight jobs finish; past the deadline, force so the process can
    // exit (the unfinished jobs are redelivered after the lock expires, and fencing makes that
    // harmless).
    // With the queue Redis unreachable no job can finish (nor be handed back): do not wait.
    if (blocking.status !== 'ready' || queueRedis.status !== 'ready') {
      await consumers.close(true);
      return;
    }
    const graceful = consumers.close();
    const timeout = new Promise<'timeout'>((resolve) =>
      setTimeout(
        () => {
          resolve('timeout');
        },
        Math.max(100, config.SHUTDOWN_TIMEOUT_MS - 2000),
      ).unref(),
    );
    if ((await Promise.race([graceful.then(() => 'ok' as const), timeout])) === 'timeout') {
      logger.warn('in-flight jobs did not finish before the deadline; forcing');
      await consumers.close(true);
    }
  });
  if (config.WORKER_HEALTH_PORT > 0) {
    const health = await startHealthServer({
      host: config.HOST,
      port: config.WORKER_HEALTH_PORT,
      ready: () =>
        consumers.isRunning() &&
        queueRedis.status === 'ready' &&
        kvRedis.status === 'ready' &&
        !lifecycle.shuttingDown,
      // For KEDA's metrics-api scaler: accepted, unfinished ops summed over the partitions.
      backlog: () => ledger.unfinished(),
    });
    lifecycle.register('health', health.close);
  }
  logger.info(
    {
      concurrency: config.WORKER_CONCURRENCY,
      partitions: layout.count,
      perPartition: consumers.perPartition,
      queue: config.QUEUE_NAME,
    },
    'worker started',
  );
  return { workers: consumers.workers };
}
