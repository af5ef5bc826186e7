import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';

import { createPeriodic, jobPayloadSchema, type Logger } from '../core/index.ts';
import { isTerminal, type Ledger } from '../store/index.ts';
import type { Settler } from './settle.ts';

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
 * - every op whose job is in BullMQ's failed set is closed (settle.ts: `dead` with a dead-letter
 *   entry only when none of its applies ran, else the outcome they had), then the job leaves the
 *   queue Redis so its value does not linger there;
 * - an op accepted long ago whose job no longer exists (its API died between accepting and
 *   enqueueing, or a queue-Redis crash lost the job) is closed the same way (JOB_LOST) instead of
 *   staying `queued` forever.
 * While the data Redis cannot say what became of an op, it stays open and is tried again on the
 * next tick. One process at a time runs it, under a lock in the queue Redis.
 */
export function createReconciler(deps: {
  ledger: Ledger;
  jobs: JobSource;
  settler: Settler;
  logger: Logger;
  intervalMs: number;
  orphanAgeMs: number;
}) {
  const { ledger, jobs, settler, logger } = deps;
  const owner = `${hostname()}:${String(process.pid)}:${randomBytes(3).toString('hex')}`;

  /** Records one final failure; safe to call any number of times for the same job. */
  async function deadLetter(job: FailedJob): Promise<void> {
    const parsed = jobPayloadSchema.safeParse(job.data);
    const error = { code: failureCode(job.failedReason), message: job.failedReason };
    if (parsed.success) {
      await settler.close(parsed.data.opId, error, parsed.data);
    } else {
      // Not an op kvq can apply or resolve (no key, no version): kept as it came, for a human.
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
      const status = await settler.close(opId, {
        code: 'JOB_LOST',
        message: 'the op was accepted but its job no longer exists',
      });
      closed++;
      logger.error(
        { opId, key: r.key, version: r.version, status },
        'closed an op whose job was lost',
      );
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
