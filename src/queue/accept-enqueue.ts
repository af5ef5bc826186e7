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
 * taken back. Every write goes this way, so no acceptance can outlive a request that timed out
 * without its job (both commands run, or neither, in the order sent).
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
    // Not accepted (a repeat, a stale decision, a refused replay): the job just added has no
    // receipt, so a worker drops it without applying anything.
    if (a.value.kind !== 'new') return a.value;
    if (b.status === 'rejected') {
      await ledger
        .unaccept({ opId: accept.opId, key: accept.key, idempotencyKey: accept.idempotencyKey })
        .catch(() => undefined);
      throw b.reason;
    }
    return a.value;
  };
}
