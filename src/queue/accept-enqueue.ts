import { createIORedisClient, Job, type JobsOptions } from 'bullmq';
import { type Cluster, Redis } from 'ioredis';

import type { ApiDeps } from '../api/index.ts';
import { AppError, JOB_NAME, type KeyLayout } from '../core/index.ts';
import { type AcceptInput, guard, type Ledger, unavailable } from '../store/index.ts';
import type { QueueHandles } from './queue-handle.ts';

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
 *
 * On a cluster there is no single socket to cork, but the acceptance and the job are in one
 * partition, whose tag puts both in one slot: they travel on the one connection to its master,
 * in the order sent.
 *
 * With MIN_REPLICA_ACKS, a new or repeated acceptance is answered only once replicas have it;
 * a shortfall is 503 WRITE_NOT_REPLICATED with the op id: the write may still take effect.
 */
export function createAcceptAndEnqueue(
  queueRedis: Redis | Cluster,
  queues: QueueHandles,
  layout: KeyLayout,
  ledger: Ledger,
  opts: JobsOptions,
): ApiDeps['acceptAndEnqueue'] {
  // BullMQ's view of the Queue's own connection, whose script runner `Job#addJob` uses.
  const bullClient = createIORedisClient(queueRedis);
  const stream =
    queueRedis instanceof Redis
      ? (queueRedis.stream as { cork?: () => void; uncork?: () => void } | undefined)
      : undefined;
  return async (accept, payload) => {
    let q: ReturnType<ReturnType<QueueHandles['of']>['get']>;
    try {
      q = queues.of(layout.of(accept.key)).get();
    } catch (err) {
      // No Queue yet (the connection was never ready): the same 503 as a failed command.
      throw unavailable(err, 'QUEUE_UNAVAILABLE');
    }
    const reuse = await ledger.checkIdempotencyHome(accept);
    if (reuse) return reuse;
    let accepting: ReturnType<Ledger['accept']>;
    let adding: Promise<unknown>;
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
    // The Idempotency-Key's first-use mark stands only for an acceptance that stands.
    const release = () => ledger.releaseIdempotencyHome(accept).catch(() => undefined);
    if (a.status === 'rejected') {
      await release();
      throw a.reason;
    }
    if (a.value.kind !== 'new' && a.value.kind !== 'dup') await release();
    // Not accepted (a repeat, a stale decision, a refused replay): the job just added has no
    // receipt, so a worker drops it without applying anything.
    if (a.value.kind === 'dup') await replicated(accept, a.value.opId);
    if (a.value.kind !== 'new') return a.value;
    if (b.status === 'rejected') {
      await ledger
        .unaccept({ opId: accept.opId, key: accept.key, idempotencyKey: accept.idempotencyKey })
        .catch(() => undefined);
      await release();
      throw b.reason;
    }
    await replicated(accept, accept.opId);
    return a.value;
  };

  async function replicated(accept: AcceptInput, opId: string): Promise<void> {
    let ok: boolean;
    try {
      ok = await ledger.replicated(accept.key, accept.idempotencyKey);
    } catch (err) {
      throw notReplicated(opId, err);
    }
    if (!ok) throw notReplicated(opId);
  }
}

/** The write reached the primary but not enough replicas: its outcome is unknown. */
function notReplicated(opId: string, cause?: unknown): AppError {
  return new AppError(
    'WRITE_NOT_REPLICATED',
    `op ${opId} was accepted by the queue Redis primary, but its replicas did not confirm it in time: it may or may not take effect; retry with the same Idempotency-Key, or read the op`,
    { cause, headers: { 'retry-after': '1' }, extensions: { opId } },
  );
}
