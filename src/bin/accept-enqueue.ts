import { createIORedisClient, Job, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';

import type { ApiDeps } from '../api/index.ts';
import { AppError, isTransient, JOB_NAME } from '../core/index.ts';
import type { Ledger } from '../store/index.ts';
import type { QueueHandle } from './queue-handle.ts';

const unavailable = (err: unknown) =>
  err instanceof AppError
    ? err
    : new AppError('QUEUE_UNAVAILABLE', `queue Redis: ${(err as Error).message}`, {
        cause: err,
        headers: { 'Retry-After': '1' },
      });

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
    let accepting: Promise<unknown>;
    let adding: Promise<unknown>;
    const stream = queueRedis.stream as { cork?: () => void; uncork?: () => void } | undefined;
    stream?.cork?.();
    try {
      const q = queue.get();
      accepting = ledger.accept(accept);
      adding = new Job(q, JOB_NAME, payload, { ...opts, jobId: accept.opId }, accept.opId).addJob(
        bullClient,
      );
    } finally {
      stream?.uncork?.();
    }
    const [a, b] = await Promise.allSettled([accepting, adding]);
    if (a.status === 'rejected') throw unavailable(a.reason);
    const accepted = a.value as Awaited<ReturnType<Ledger['accept']>>;
    if (accepted.kind !== 'new')
      throw new Error(`accepted without Idempotency-Key: ${accepted.kind}`);
    if (b.status === 'rejected') {
      await ledger.unaccept({ opId: accept.opId, key: accept.key }).catch(() => undefined);
      throw isTransient(b.reason) ? unavailable(b.reason) : b.reason;
    }
    return { version: accepted.version, acceptedAt: accepted.acceptedAt };
  };
}
