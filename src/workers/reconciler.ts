import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';

import { createPeriodic, jobPayloadSchema, type Logger } from '../core/index.ts';
import { isTerminal, type Ledger } from '../store/index.ts';

/** The queue operations the reconciler needs; the composition root adapts a BullMQ Queue. */
export interface JobSource {
  /** Jobs in BullMQ's failed set (final failures: BullMQ retries never sit there). */
  failed(limit: number): Promise<FailedJob[]>;
  exists(jobId: string): Promise<boolean>;
  remove(jobId: string): Promise<void>;
}

export interface FailedJob {
  id: string;
  data: unknown;
  failedReason: string;
  attemptsMade: number;
}

/** Which error code a final BullMQ failure is recorded under. */
function failureCode(reason: string): string {
  if (/stalled more than allowable limit/i.test(reason)) return 'STALLED_TOO_OFTEN';
  if (/malformed job/i.test(reason)) return 'MALFORMED_JOB';
  return 'RETRIES_EXHAUSTED';
}

/**
 * Makes failure handling complete even when a process dies mid-way:
 * - every job in BullMQ's failed set gets a `dead` receipt and a dead-letter entry (idempotent,
 *   keyed by op id), then leaves the queue Redis so its value does not linger there;
 * - an op accepted long ago whose job no longer exists (its API died between accepting and
 *   enqueueing, or a queue-Redis crash lost the job) is closed as `dead` / JOB_LOST instead of
 *   staying `queued` forever.
 * One process at a time runs it, under a lock in the queue Redis.
 */
export function createReconciler(deps: {
  ledger: Ledger;
  jobs: JobSource;
  logger: Logger;
  intervalMs: number;
  orphanAgeMs: number;
}) {
  const { ledger, jobs, logger } = deps;
  const owner = `${hostname()}:${String(process.pid)}:${randomBytes(3).toString('hex')}`;

  /** Records one final failure; safe to call any number of times for the same job. */
  async function deadLetter(job: FailedJob): Promise<void> {
    const parsed = jobPayloadSchema.safeParse(job.data);
    const error = { code: failureCode(job.failedReason), message: job.failedReason };
    if (parsed.success) {
      let op = parsed.data;
      if (op.version === undefined || op.acceptedAt === undefined) {
        // A job added with its acceptance carries no version: the dead letter takes the receipt's.
        const r = await ledger.receipt(op.opId);
        if (r) op = { ...op, version: r.version, acceptedAt: r.acceptedAtMs };
      }
      await ledger.finish({
        opId: op.opId,
        key: op.key,
        status: 'dead',
        attempts: job.attemptsMade,
        error,
        deadLetter: op,
      });
    } else {
      await ledger.finish({
        opId: job.id,
        key: '',
        status: 'dead',
        attempts: job.attemptsMade,
        error: { code: 'MALFORMED_JOB', message: job.failedReason },
        deadLetter: JSON.stringify(job.data ?? null),
      });
    }
    await jobs.remove(job.id);
  }

  async function closeOrphans(): Promise<number> {
    let closed = 0;
    for (const opId of await ledger.openOlderThan(deps.orphanAgeMs, 200)) {
      const r = await ledger.receipt(opId);
      if (!r || isTerminal(r.status)) {
        await ledger.forgetOpen(opId);
        continue;
      }
      if (await jobs.exists(r.jobId)) continue;
      await ledger.finish({
        opId,
        key: r.key,
        status: 'dead',
        attempts: r.attempts,
        error: { code: 'JOB_LOST', message: 'the op was accepted but its job no longer exists' },
      });
      closed++;
      logger.error({ opId, key: r.key, version: r.version }, 'closed an op whose job was lost');
    }
    return closed;
  }

  async function tick(): Promise<{ deadLettered: number; orphans: number }> {
    if (!(await ledger.tryLock('reconcile', deps.intervalMs * 3, owner))) {
      return { deadLettered: 0, orphans: 0 };
    }
    const failed = await jobs.failed(500);
    for (const job of failed) await deadLetter(job);
    const orphans = await closeOrphans();
    if (failed.length > 0 || orphans > 0) {
      logger.info({ deadLettered: failed.length, orphans }, 'reconciled');
    }
    return { deadLettered: failed.length, orphans };
  }

  const periodic = createPeriodic(tick, deps.intervalMs, (err: unknown) => {
    logger.warn({ err }, 'reconcile failed');
  });
  return { deadLetter, tick, start: periodic.start, stop: periodic.stop };
}
