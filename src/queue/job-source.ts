import type { Cluster, Redis } from 'ioredis';

import type { KeyLayout } from '../core/index.ts';
import { createQueueHandles } from './queue-handle.ts';

/** A job in BullMQ's failed set, as the reconciler reads it. */
export interface FailedJobView {
  id: string;
  data: unknown;
  failedReason: string;
  attemptsMade: number;
}

/**
 * The reconciler's view of every partition's queue: final failures and whether a job exists.
 * A job's id is its op id, which names the partition (a job whose id names none is filed, and
 * dead-lettered, in partition 0).
 */
export function createJobSource(layout: KeyLayout, connection: Redis | Cluster) {
  const queues = createQueueHandles(layout, connection);
  const queueOf = (jobId: string) => queues.of(layout.ofOp(jobId) ?? 0).get();
  return {
    async failed(limit: number): Promise<FailedJobView[]> {
      const per = Math.max(1, Math.ceil(limit / layout.count));
      const lists = await Promise.all(
        Array.from({ length: layout.count }, (_, i) =>
          queues
            .of(i)
            .get()
            .getFailed(0, per - 1),
        ),
      );
      return lists.flat().map((j) => ({
        id: j.id ?? '',
        data: j.data as unknown,
        failedReason: j.failedReason,
        attemptsMade: j.attemptsMade,
      }));
    },
    async exists(jobId: string): Promise<boolean> {
      return (await queueOf(jobId).getJobState(jobId)) !== 'unknown';
    },
    async remove(jobId: string): Promise<void> {
      await queueOf(jobId).remove(jobId);
    },
    close: () => queues.close(),
  };
}
