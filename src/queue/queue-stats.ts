import type { Cluster, Redis } from 'ioredis';

import type { QueueHandles } from './queue-handle.ts';

/** The BullMQ job states read, in BullMQ's names (`wait` is reported as `waiting`). */
const STATES = ['waiting', 'active', 'delayed', 'prioritized', 'failed'] as const;

export interface QueueStats {
  jobs: Record<(typeof STATES)[number], number>;
  /** Age of the oldest job waiting in any partition, in seconds (0 when none waits). */
  oldestWaitingSeconds: number;
}

/**
 * Reads the job counts of every partition's queue, summed, and the age of the oldest waiting job
 * (the tail of each partition's wait list, read on `connection`, the handles' own; its `timestamp` is when it was added). One LINDEX and
 * one HGET per partition: the job's data (the value) is never loaded.
 */
export function createQueueStats(
  handles: QueueHandles,
  connection: Redis | Cluster,
  now: () => number = Date.now,
): () => Promise<QueueStats> {
  return async () => {
    const parts = await Promise.all(
      Array.from({ length: handles.count }, async (_, i) => {
        const q = handles.of(i).get();
        const [counts, oldestId] = await Promise.all([
          q.getJobCounts(...STATES),
          connection.lindex(q.keys.wait ?? '', -1),
        ]);
        const added = oldestId ? await connection.hget(q.toKey(oldestId), 'timestamp') : null;
        return { counts, added: added === null ? undefined : Number(added) };
      }),
    );
    const jobs = Object.fromEntries(STATES.map((s) => [s, 0])) as QueueStats['jobs'];
    let oldest: number | undefined;
    for (const { counts, added } of parts) {
      for (const s of STATES) jobs[s] += counts[s] ?? 0;
      if (added !== undefined && Number.isFinite(added)) oldest = Math.min(oldest ?? added, added);
    }
    return {
      jobs,
      oldestWaitingSeconds: oldest === undefined ? 0 : Math.max(0, now() - oldest) / 1000,
    };
  };
}
