import { Queue } from 'bullmq';
import type { Cluster, Redis } from 'ioredis';

import type { KeyLayout } from '../core/index.ts';

/**
 * A BullMQ Queue on a fail-fast connection (no offline queue). BullMQ initialises a Queue once,
 * and on such a connection that fails for good if Redis is not reachable at that moment (e.g. the
 * API pod starts before the queue Redis). So the Queue is made only while the connection is
 * ready, and made again if its initialisation failed.
 */
export interface QueueHandle {
  get(): Queue;
  close(): Promise<void>;
}

export class QueueUnavailableError extends Error {
  constructor() {
    super('queue Redis connection is not ready');
    this.name = 'QueueUnavailableError';
    // Recognised as transient by core/errors (same text as ioredis' offline error).
    this.message = "Stream isn't writeable: queue Redis connection is not ready";
  }
}

/**
 * How many entries BullMQ keeps in each queue's event stream (its default is 10,000). kvq reads
 * none of them (receipts and its own done channel are its events), and with one queue per
 * partition a long stream per queue multiplies the queue Redis's working set by the partition
 * count, which costs CPU on every job (BENCHMARKS.md, "Where P = 12's extra apply cost goes").
 * BullMQ keeps the value in the queue's meta hash, where its scripts read it.
 */
export const EVENT_STREAM_MAX_LEN = 100;

export function createQueueHandle(name: string, connection: Redis | Cluster): QueueHandle {
  let queue: Queue | undefined;
  let broken = false;
  return {
    get() {
      if (queue && !broken) return queue;
      if (connection.status !== 'ready') throw new QueueUnavailableError();
      const old = queue;
      void old?.close().catch(() => undefined);
      broken = false;
      const q = new Queue(name, {
        connection,
        skipWaitingForReady: true,
        streams: { events: { maxLen: EVENT_STREAM_MAX_LEN } },
      });
      q.on('error', () => undefined);
      q.waitUntilReady().catch(() => {
        if (queue === q) broken = true;
      });
      queue = q;
      return q;
    },
    async close() {
      await queue?.close();
    },
  };
}

/** One handle per partition: partition i's BullMQ queue is `layout.queueName(i)`. */
export interface QueueHandles {
  readonly count: number;
  /** The handle of a partition. */
  of(partition: number): QueueHandle;
  /** Jobs waiting, active, delayed or prioritized, summed over the partitions' queues. */
  backlog(): Promise<number>;
  close(): Promise<void>;
}

export function createQueueHandles(layout: KeyLayout, connection: Redis | Cluster): QueueHandles {
  const handles = Array.from({ length: layout.count }, (_, i) =>
    createQueueHandle(layout.queueName(i), connection),
  );
  return {
    count: handles.length,
    of(partition) {
      const h = handles[partition];
      if (!h) throw new Error(`no queue for partition ${String(partition)}`);
      return h;
    },
    async backlog() {
      const counts = await Promise.all(
        handles.map((h) => h.get().getJobCounts('waiting', 'active', 'delayed', 'prioritized')),
      );
      return counts.reduce((sum, c) => sum + Object.values(c).reduce((a, b) => a + b, 0), 0);
    },
    async close() {
      await Promise.all(handles.map((h) => h.close()));
    },
  };
}
