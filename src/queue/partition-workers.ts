import { type Job, type Processor, Worker } from 'bullmq';
import type { Cluster, Redis } from 'ioredis';

import type { KeyLayout } from '../core/index.ts';

/**
 * The consumer side: one BullMQ worker per partition's queue, sharing the process's concurrency.
 * Each runs up to ceil(concurrency / P) jobs, so an idle partition lends nothing to a busy one
 * (the price of keeping each queue in its own slot). They share `connection` for commands; BullMQ
 * gives each its own blocking connection.
 */
export interface PartitionWorkers<D, R> {
  readonly workers: Worker<D, R>[];
  readonly perPartition: number;
  onError(handler: (err: Error) => void): void;
  onFailed(handler: (job: Job<D, R> | undefined, err: Error) => void): void;
  isRunning(): boolean;
  close(force?: boolean): Promise<void>;
}

export function createPartitionWorkers<D, R>(opts: {
  layout: KeyLayout;
  connection: Redis | Cluster;
  processor: Processor<D, R>;
  concurrency: number;
  lockDurationMs: number;
  stalledIntervalMs: number;
}): PartitionWorkers<D, R> {
  const perPartition = Math.max(1, Math.ceil(opts.concurrency / opts.layout.count));
  const workers = Array.from(
    { length: opts.layout.count },
    (_, i) =>
      new Worker<D, R>(opts.layout.queueName(i), opts.processor, {
        connection: opts.connection,
        concurrency: perPartition,
        lockDuration: opts.lockDurationMs,
        stalledInterval: opts.stalledIntervalMs,
        // Fencing makes redelivery harmless, so a job may be recovered from a stall several times.
        maxStalledCount: 5,
        // Also for jobs added without options (a replay by hand): never keep values around.
        removeOnComplete: { count: 0 },
        removeOnFail: { age: 3600 },
      }),
  );
  return {
    workers,
    perPartition,
    onError(handler) {
      for (const w of workers) w.on('error', handler);
    },
    onFailed(handler) {
      for (const w of workers) w.on('failed', handler);
    },
    isRunning: () => workers.every((w) => w.isRunning()),
    async close(force) {
      await Promise.all(workers.map((w) => w.close(force)));
    },
  };
}
