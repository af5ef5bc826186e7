import {
  AppError,
  type JobPayload,
  type Logger,
  type OpError,
  type OpStatus,
} from '../core/index.ts';
import type { Metrics } from '../metrics/index.ts';
import type { ApplyOutcome, Ledger, RecordStore, Resolution } from '../store/index.ts';
import { type InJobRetry, withRetry } from './retry-policy.ts';

/** A terminal status, as a worker records it. */
export type Finished = Exclude<OpStatus, 'queued' | 'active'>;

export const OP_EXPIRED_ERROR: OpError = {
  code: 'OP_EXPIRED',
  message: 'the op is older than the fencing window and the key has no record to fence it',
};

export const VERSION_REISSUED_ERROR: OpError = {
  code: 'VERSION_REISSUED',
  message:
    'the queue Redis issued this version again after a failover; the data Redis holds another op under it, so this op was not applied',
};

/** Longest single pause while waiting for the data Redis clock to pass a deadline. */
const MAX_PAUSE_MS = 2000;

/**
 * Deciding an op's outcome when it is not known whether its apply ran: after a timeout, a stalled
 * data Redis, a crash, a lost job. A terminal status is written only from what the data Redis
 * shows once its clock is past every deadline an apply of the op was sent with (apply.lua refuses
 * to run after its deadline), so an outcome reported here can never be contradicted later.
 */
export function createSettler(deps: {
  ledger: Ledger;
  records: RecordStore;
  logger: Logger;
  retry: InJobRetry;
  /** Counts the terminal statuses this process records (kvq_ops_finished_total). */
  metrics?: Pick<Metrics, 'opFinished'> | undefined;
}) {
  const { ledger, records, logger, retry } = deps;

  /**
   * What the data Redis shows of op `opId` at version `version` once no apply sent by `deadline`
   * can still run: `none` means no apply of it ran. Rejects while the data Redis is unreachable.
   */
  async function resolve(
    op: { opId: string; key: string; version: number },
    deadline: number,
  ): Promise<Exclude<Resolution, { kind: 'wait' }>> {
    for (;;) {
      const r = await withRetry(() => records.resolve({ ...op, deadline }), retry);
      if (r.kind !== 'wait') return r;
      await new Promise((resolve) => setTimeout(resolve, Math.min(r.ms, MAX_PAUSE_MS)));
    }
  }

  /**
   * Closes an unfinished op for good: seals it (no new applies), resolves what its earlier applies
   * did, and records that: applied, superseded, failed (refused as too old) or, only when nothing
   * of it ran, dead with `error`. `deadLetter` is the op to keep in the dead-letter queue then.
   * Returns the status that stands, or null when the op has no receipt (finished and trimmed, or
   * never accepted: nothing to record).
   */
  async function close(
    opId: string,
    error: OpError,
    deadLetter?: JobPayload | string,
  ): Promise<Finished | null> {
    const sealed = await withRetry(() => ledger.seal(opId), retry);
    if (sealed.status === 'missing') return null;
    if (sealed.status !== 'queued' && sealed.status !== 'active') return sealed.status;
    const resolution = await resolve(
      { opId, key: sealed.key, version: sealed.version },
      sealed.deadline,
    );
    const outcome = resolution.kind;
    const details = resolution.kind === 'applied' ? resolution.outcome : undefined;
    const status: Finished =
      outcome === 'none'
        ? 'dead'
        : outcome === 'refused' || outcome === 'conflict'
          ? 'failed'
          : outcome;
    if (outcome === 'conflict') {
      await withRetry(() => ledger.raiseVersion(sealed.key, sealed.version), retry);
    }
    // With MIN_REPLICA_ACKS, `applied` is recorded only once the data replicas have the record:
    // until then the op stays open (sealed), and the next close (a retry, the reconciler) tries
    // again.
    if (outcome === 'applied' && !(await records.replicated(sealed.key))) {
      throw new AppError(
        'DATA_NOT_REPLICATED',
        `op ${opId}: applied, but not yet acknowledged by enough data Redis replicas`,
      );
    }
    const recorded =
      status === 'dead'
        ? error
        : outcome === 'conflict'
          ? VERSION_REISSUED_ERROR
          : status === 'failed'
            ? OP_EXPIRED_ERROR
            : undefined;
    const stands = await withRetry(
      () =>
        ledger.finish({
          opId,
          key: sealed.key,
          status,
          attempts: sealed.attempts,
          ...appliedDetails(details),
          error: recorded,
          deadLetter:
            status === 'dead' && deadLetter !== undefined
              ? typeof deadLetter === 'string'
                ? deadLetter
                : { ...deadLetter, version: sealed.version, acceptedAt: sealed.acceptedAt }
              : undefined,
        }),
      retry,
    );
    if (stands === status) {
      deps.metrics?.opFinished(
        status,
        recorded?.code,
        applyLagMs(details?.updatedAt, sealed.acceptedAt),
      );
    }
    if (status !== 'dead' && outcome !== 'refused' && outcome !== 'conflict') {
      logger.info({ opId, status }, 'an op being closed had been applied: recorded as such');
    }
    return stands as Finished;
  }

  return { resolve, close };
}

export type Settler = ReturnType<typeof createSettler>;

/** What a receipt records of an apply (none for an op that was not applied). */
export function appliedDetails(outcome: ApplyOutcome | undefined) {
  return outcome
    ? {
        created: outcome.created,
        createdAt: outcome.createdAt,
        expiresAt: outcome.expiresAt,
        appliedAt: outcome.updatedAt,
      }
    : {};
}

/**
 * From acceptance (queue Redis clock) to the apply (data Redis clock), in ms; undefined unless
 * both are known (an applied op).
 */
export function applyLagMs(
  appliedAt: number | undefined,
  acceptedAt: number | undefined,
): number | undefined {
  return appliedAt === undefined || acceptedAt === undefined ? undefined : appliedAt - acceptedAt;
}

/** The error an attempt ends with when its apply provably did not run (retried by BullMQ). */
export function notApplied(opId: string): AppError {
  return new AppError('DATA_UNAVAILABLE', `op ${opId}: the apply did not run before its deadline`);
}
