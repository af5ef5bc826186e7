import { createIORedisClient, Job, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';

import type { ApiDeps } from '../api/index.ts';
import { JOB_NAME } from '../core/index.ts';
import { guard, type Ledger, unavailable } from '../store/index.ts';
import type { QueueHandle } from './queue-handle.ts';

/**
 * Acceptance and the op's job sent together: both commands leave in one socket write (the
 * connection is corked while they are issued) and Redis runs them in order, so a write costs one
 * round trip instead of two. The job is built before the version exists, so it carries none; the
 * worker reads it from the receipt (ledger.start). If the job cannot be added, the acceptance is
 * taken back, as when a separate add fails.
 *
 * Not a MULTI: an ioredis transaction copies every script defined on the client (BullMQ defines
 * dozens) and measured slower than two round trips.
 */
export function createAcceptAndEnqueue(
  queueRedis: Redis,
  queue: QueueHandle,
  ledger: Ledger,
  opts: JobsOptions,
): ApiDeps['acceptAndEnqueue'] {
  // BullMQ's view of the Queue's own connection, whose script runner `Job#addJob` uses.
  const bullClient = createIORedisClient(queueRedis);
  return async (accept, payload) => {
    let q: ReturnType<QueueHandle['get']>;
    try {
      q = queue.get();
    } catch (err) {
      // No Queue yet (the connection was never ready): the same 503 as a failed command.
      throw unavailable(err, 'QUEUE_UNAVAILABLE');
    }
    let accepting: ReturnType<Ledger['accept']>;
    let adding: Promise<unknown>;
    const stream = queueRedis.stream as { cork?: () => void; uncork?: () => void } | undefined;
    stream?.cork?.();
    try {
      accepting = ledger.accept(accept);
      adding = guard(
        new Job(q, JOB_NAME, payload, { ...opts, jobId: accept.opId }, accept.opId).addJob(
          bullClient,
        ),
        'QUEUE_UNAVAILABLE',
      );
    } finally {
      stream?.uncork?.();
    }
    const [a, b] = await Promise.allSettled([accepting, adding]);
    if (a.status === 'rejected') throw a.reason;
    if (a.value.kind !== 'new') {
      throw new Error(`accepted without Idempotency-Key: ${a.value.kind}`);
    }
    if (b.status === 'rejected') {
      await ledger.unaccept({ opId: accept.opId, key: accept.key }).catch(() => undefined);
      throw b.reason;
    }
    return { version: a.value.version, acceptedAt: a.value.acceptedAt };
  };
}
