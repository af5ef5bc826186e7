import { UnrecoverableError } from 'bullmq';

import {
  AppError,
  isTransient,
  type JobPayload,
  jobPayloadSchema,
  type Logger,
  type OpStatus,
} from '../core/index.ts';
import type { ApplyOutcome, Ledger, RecordStore } from '../store/index.ts';
import { type InJobRetry, withRetry } from './retry-policy.ts';

/** The part of a BullMQ job the processor reads (kept small so tests can build one). */
export interface ApplyJob {
  id?: string | undefined;
  data: unknown;
  attemptsMade: number;
  opts: { attempts?: number | undefined };
}

export interface ProcessResult {
  opId: string;
  status: OpStatus;
  /** True when the receipt was already terminal: a redelivery that did nothing. */
  duplicate: boolean;
}

type Finished = Exclude<OpStatus, 'queued' | 'active'>;

function statusOf(
  outcome: ApplyOutcome,
  op: JobPayload,
): { status: Finished; error?: { code: string; message: string } } {
  switch (outcome.outcome) {
    case 'applied':
    case 'already':
      return { status: 'applied' };
    case 'superseded':
      return { status: 'superseded' };
    case 'failed': {
      const code = op.conditionCode ?? 'PRECONDITION_FAILED';
      return {
        status: 'failed',
        error: {
          code,
          message:
            code === 'KEY_EXISTS'
              ? `key exists (at version ${outcome.version})`
              : `condition ${describe(op)} did not hold at apply time (key at version ${outcome.version})`,
        },
      };
    }
    case 'expired':
      // Refused rather than applied; it goes to the dead-letter queue so that it stays visible.
      return {
        status: 'dead',
        error: {
          code: 'OP_EXPIRED',
          message: 'the op is older than the fencing window and the key has no record to fence it',
        },
      };
  }
}

function describe(op: JobPayload): string {
  const c = op.condition;
  if (!c) return 'none';
  if (c.kind === 'absent') return 'If-None-Match: *';
  if (c.kind === 'exists') return 'If-Match: *';
  return `If-Match: "${String(c.version)}"`;
}

/**
 * Applies one op: mark active, one fenced Lua write on the data Redis, record the terminal status.
 * Every step is idempotent, so a redelivered or duplicated job changes nothing.
 */
export function createProcessor(deps: {
  records: RecordStore;
  ledger: Ledger;
  logger: Logger;
  retry: InJobRetry;
}) {
  const { records, ledger, logger, retry } = deps;

  return async function processJob(job: ApplyJob): Promise<ProcessResult> {
    const parsed = jobPayloadSchema.safeParse(job.data);
    if (!parsed.success) {
      logger.error({ jobId: job.id, issues: parsed.error.issues }, 'malformed job');
      throw new UnrecoverableError(`malformed job: ${parsed.error.message}`);
    }
    let op = parsed.data;
    const attempt = job.attemptsMade + 1;
    const lastAttempt = attempt >= (job.opts.attempts ?? 1);

    try {
      const before = await withRetry(() => ledger.start(op.opId, attempt), retry);
      if (before.status !== 'missing' && before.status !== 'queued' && before.status !== 'active') {
        return { opId: op.opId, status: before.status, duplicate: true };
      }
      // A job sent together with its acceptance carries no version: the receipt has it.
      if (op.version === undefined || op.acceptedAt === undefined) {
        if (before.status === 'missing') {
          throw new UnrecoverableError(`op ${op.opId} has no receipt to take its version from`);
        }
        op = { ...op, version: before.version, acceptedAt: before.acceptedAt };
      }
      const version = op.version ?? 0;
      const acceptedAt = op.acceptedAt ?? 0;
      const outcome = await withRetry(
        () =>
          records.apply({
            key: op.key,
            type: op.type,
            version,
            valueJson: op.value,
            ttlMs: op.ttlMs,
            condition: op.condition,
            acceptedAt,
          }),
        retry,
      );
      const { status, error } = statusOf(outcome, op);
      const stands = await withRetry(
        () =>
          ledger.finish({
            opId: op.opId,
            key: op.key,
            status,
            attempts: attempt,
            error,
            // 'already' (a redelivery of an applied op) carries no record details.
            ...(outcome.outcome === 'applied'
              ? {
                  created: outcome.created,
                  createdAt: outcome.createdAt,
                  expiresAt: outcome.expiresAt,
                }
              : {}),
            appliedAt: outcome.outcome === 'applied' ? outcome.updatedAt : undefined,
            deadLetter: status === 'dead' ? op : undefined,
          }),
        retry,
      );
      return { opId: op.opId, status: stands, duplicate: false };
    } catch (err) {
      const transient = isTransient(err);
      if (!transient || lastAttempt) {
        // Out of attempts (or an error no retry can fix): the receipt must say so.
        const code =
          err instanceof AppError ? err.code : transient ? 'RETRIES_EXHAUSTED' : 'INTERNAL';
        const message = err instanceof Error ? err.message : String(err);
        try {
          await ledger.finish({
            opId: op.opId,
            key: op.key,
            status: 'dead',
            attempts: attempt,
            error: { code, message },
            deadLetter: op,
          });
        } catch (finishErr) {
          logger.error({ err: finishErr, opId: op.opId }, 'could not record dead op');
        }
        logger.error({ err, opId: op.opId, attempt }, 'op is dead');
        if (!transient) throw new UnrecoverableError(message);
      } else {
        logger.warn({ err, opId: op.opId, attempt }, 'op attempt failed; BullMQ will retry');
      }
      throw err;
    }
  };
}
