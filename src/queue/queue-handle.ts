import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';

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

export function createQueueHandle(name: string, connection: Redis): QueueHandle {
  let queue: Queue | undefined;
  let broken = false;
  return {
    get() {
      if (queue && !broken) return queue;
      if (connection.status !== 'ready') throw new QueueUnavailableError();
      const old = queue;
      void old?.close().catch(() => undefined);
      broken = false;
      const q = new Queue(name, { connection, skipWaitingForReady: true });
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
