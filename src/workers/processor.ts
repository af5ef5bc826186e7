import { UnrecoverableError } from 'bullmq';

import {
  AppError,
  isTransient,
  type JobPayload,
  jobPayloadSchema,
  type Logger,
  type OpStatus,
} from '../core/index.ts';
import type { Metrics } from '../metrics/index.ts';
import type { ApplyOutcome, Ledger, RecordStore } from '../store/index.ts';
import { type InJobRetry, withRetry } from './retry-policy.ts';
import {
  appliedDetails,
  applyLagMs,
  type Finished,
  notApplied,
  OP_EXPIRED_ERROR,
  type Settler,
  VERSION_REISSUED_ERROR,
} from './settle.ts';

/** The part of a BullMQ job the processor reads (kept small so tests can build one). */
export interface ApplyJob {
  id?: string | undefined;
  data: unknown;
  attemptsMade: number;
  opts: { attempts?: number | undefined };
  /** When the job was added (the producer's clock, ms). */
  timestamp?: number | undefined;
}

/**
 * How long a job without a receipt is given before it is dropped. Acceptance is sent ahead of
 * its job, but it can still run after it: a script missing from a Redis' cache (after a restart
 * or a failover) answers NOSCRIPT and is sent again, one round trip after the job was added.
 */
const RECEIPT_GRACE_MS = 2000;

class ReceiptNotYet extends Error {
  constructor(opId: string) {
    super(`op ${opId}: no receipt yet; its acceptance may still be on its way`);
    this.name = 'ReceiptNotYet';
  }
}

export interface ProcessResult {
  opId: string;
  /** `missing`: the op has no receipt (finished and trimmed, or never accepted); nothing done. */
  status: OpStatus | 'missing';
  /** True when the receipt was already terminal: a redelivery that did nothing. */
  duplicate: boolean;
}

/** What one try came to. */
type Attempt =
  /** The op's apply settled: its terminal status, with the record details when it just ran. */
  | {
      kind: 'settled';
      status: Finished;
      outcome?: ApplyOutcome;
      error?: { code: string; message: string };
      /** When the op was accepted (queue Redis clock, ms), for the apply lag. */
      acceptedAt?: number;
    }
  /** None of its applies ran (and none still can): try again. `error`: why this one failed. */
  | { kind: 'not-applied'; error?: unknown }
  /** Terminal before this try: a redelivery. */
  | { kind: 'done'; status: Finished }
  /** Closed to new applies by another process (see settle.ts). */
  | { kind: 'sealed' }
  /** No receipt: finished and trimmed long ago, or its acceptance was taken back. */
  | { kind: 'gone' };

/** How often the estimate of the data Redis clock is refreshed. */
const CLOCK_SYNC_MS = 30_000;

/**
 * Applies one op: mark it active with an apply deadline, one fenced Lua write on the data Redis,
 * record the terminal status. Every step is idempotent, so a redelivered or duplicated job changes
 * nothing. When an apply's outcome is unknown (a timeout, a stalled data Redis), the op's outcome
 * is resolved once the data Redis clock is past the deadline; a terminal status is never written
 * from a guess. On the last attempt, the op is closed (see settle.ts): `dead` only when none of
 * its applies ran.
 */
export function createProcessor(deps: {
  records: RecordStore;
  ledger: Ledger;
  logger: Logger;
  retry: InJobRetry;
  settler: Settler;
  /** How long after it is sent an apply may still run (data Redis clock). */
  applyBudgetMs: number;
  /** Counts the terminal statuses this process records (kvq_ops_finished_total). */
  metrics?: Pick<Metrics, 'opFinished'> | undefined;
}) {
  const { records, ledger, logger, retry, settler } = deps;
  let syncedAt = 0;

  /**
   * The op's version is held by another op in the data Redis: the queue Redis issued it twice
   * (a failover lost the first acceptance). This op had no effect; the key's counter is raised so
   * that the next write gets a version above the one the data Redis holds.
   */
  async function reissued(op: { key: string; version: number }): Promise<Attempt> {
    await withRetry(() => ledger.raiseVersion(op.key, op.version), retry);
    return { kind: 'settled', status: 'failed', error: VERSION_REISSUED_ERROR };
  }

  const notReplicatedYet = (opId: string) =>
    new AppError(
      'WRITE_NOT_REPLICATED',
      `op ${opId}: its acceptance is not yet on enough queue Redis replicas; not applied`,
    );

  async function applyOnce(op: JobPayload, attempt: number): Promise<Attempt> {
    if (Date.now() - syncedAt > CLOCK_SYNC_MS) {
      await withRetry(() => records.syncClock(), retry);
      syncedAt = Date.now();
    }
    const deadline = Math.ceil(records.clock() + deps.applyBudgetMs);
    const before = await withRetry(() => ledger.start(op.opId, op.key, attempt, deadline), retry);
    if (before.status === 'missing') return { kind: 'gone' };
    if (before.status === 'mismatch') {
      logger.error({ opId: op.opId, key: op.key }, 'job names another key than its op: ignored');
      return { kind: 'gone' };
    }
    if (before.status === 'sealed') return { kind: 'sealed' };
    if (before.status !== 'queued' && before.status !== 'active') {
      return { kind: 'done', status: before.status };
    }
    // With MIN_REPLICA_ACKS, nothing is applied for an acceptance that replicas do not have: a
    // queue primary cut off from its replicas (about to lose a failover) must not get its ops
    // into the data Redis, where the new primary's reissued versions would clash with them.
    if (!(await ledger.replicated(op.key))) {
      return { kind: 'not-applied', error: notReplicatedYet(op.opId) };
    }
    // The receipt is authoritative for the version (a job sent with its acceptance carries none).
    const target = { opId: op.opId, key: op.key, version: before.version };
    let outcome: ApplyOutcome | undefined;
    let failure: unknown;
    try {
      outcome = await records.apply({
        ...target,
        type: op.type,
        valueJson: op.value,
        ttlMs: op.ttlMs,
        acceptedAt: before.acceptedAt,
        deadline,
      });
    } catch (err) {
      if (!isTransient(err)) throw err;
      failure = err;
      logger.warn({ err, opId: op.opId }, 'apply outcome unknown; resolving it');
    }
    switch (outcome?.outcome) {
      case 'applied':
        return { kind: 'settled', status: 'applied', outcome, acceptedAt: before.acceptedAt };
      case 'already':
        // Its first reply was lost or not yet replicated: the script reports what it did then.
        return { kind: 'settled', status: 'applied', outcome, acceptedAt: before.acceptedAt };
      case 'superseded':
        return { kind: 'settled', status: 'superseded' };
      case 'expired':
        return { kind: 'settled', status: 'failed', error: OP_EXPIRED_ERROR };
      case 'conflict':
        return reissued(target);
      default: {
        // Timed out or ran late: ask the data Redis once its clock is past the deadline.
        const r = await settler.resolve(target, before.deadline);
        if (r.kind === 'none') return { kind: 'not-applied', error: failure };
        if (r.kind === 'refused') {
          return { kind: 'settled', status: 'failed', error: OP_EXPIRED_ERROR };
        }
        if (r.kind === 'conflict') return reissued(target);
        if (r.kind === 'applied') {
          return {
            kind: 'settled',
            status: 'applied',
            outcome: r.outcome,
            acceptedAt: before.acceptedAt,
          };
        }
        return { kind: 'settled', status: r.kind };
      }
    }
  }

  return async function processJob(job: ApplyJob): Promise<ProcessResult> {
    const parsed = jobPayloadSchema.safeParse(job.data);
    if (!parsed.success) {
      logger.error({ jobId: job.id, issues: parsed.error.issues }, 'malformed job');
      throw new UnrecoverableError(`malformed job: ${parsed.error.message}`);
    }
    const op = parsed.data;
    const attempt = job.attemptsMade + 1;
    const lastAttempt = attempt >= (job.opts.attempts ?? 1);

    try {
      let result: Attempt = { kind: 'not-applied' };
      for (let i = 0; i <= retry.retries && result.kind === 'not-applied'; i++) {
        result = await applyOnce(op, attempt);
      }
      if (result.kind === 'gone') {
        const young = job.timestamp !== undefined && Date.now() - job.timestamp < RECEIPT_GRACE_MS;
        if (young && !lastAttempt) throw new ReceiptNotYet(op.opId);
        logger.warn({ opId: op.opId, jobId: job.id }, 'job without a receipt: nothing to apply');
        return { opId: op.opId, status: 'missing', duplicate: true };
      }
      if (result.kind === 'done') return { opId: op.opId, status: result.status, duplicate: true };
      if (result.kind === 'sealed') {
        // Another process is closing the op (or died doing so): finish that instead.
        const stands = await settler.close(
          op.opId,
          { code: 'RETRIES_EXHAUSTED', message: 'closed while being retried' },
          op,
        );
        return { opId: op.opId, status: stands ?? 'missing', duplicate: true };
      }
      // The apply's own error (e.g. DATA_FULL) says more than "did not run".
      if (result.kind === 'not-applied') {
        throw result.error instanceof Error ? result.error : notApplied(op.opId);
      }
      const settled = result;
      const details = settled.outcome;
      // With MIN_REPLICA_ACKS, an op is reported applied only once replicas have it; a shortfall
      // is retried (the next apply finds it 'already' applied and waits again).
      if (settled.status === 'applied' && !(await records.replicated(op.key))) {
        throw new AppError(
          'DATA_NOT_REPLICATED',
          `op ${op.opId}: applied, but not yet acknowledged by enough data Redis replicas`,
        );
      }
      const stands = await withRetry(
        () =>
          ledger.finish({
            opId: op.opId,
            key: op.key,
            status: settled.status,
            attempts: attempt,
            error: settled.error,
            ...appliedDetails(details),
          }),
        retry,
      );
      if (stands === settled.status) {
        deps.metrics?.opFinished(
          stands,
          settled.error?.code,
          applyLagMs(details?.updatedAt, settled.acceptedAt),
        );
      }
      return { opId: op.opId, status: stands, duplicate: false };
    } catch (err) {
      // Tried again after BullMQ's backoff; most such jobs belong to refused tries and are
      // dropped then, so not worth a warning.
      if (err instanceof ReceiptNotYet) throw err;
      const transient = isTransient(err);
      if (transient && !lastAttempt) {
        logger.warn({ err, opId: op.opId, attempt }, 'op attempt failed; BullMQ will retry');
        throw err;
      }
      // Out of attempts (or an error no retry can fix): close the op. It ends `dead` only if none
      // of its applies ran; if the data Redis cannot say yet, the job fails and the reconciler
      // closes it later.
      const code =
        err instanceof AppError ? err.code : transient ? 'RETRIES_EXHAUSTED' : 'INTERNAL';
      const message = err instanceof Error ? err.message : String(err);
      let stands: Finished | null;
      try {
        stands = await settler.close(op.opId, { code, message }, op);
      } catch (closeErr) {
        logger.error({ err: closeErr, opId: op.opId }, 'could not close the op yet');
        throw transient ? err : new UnrecoverableError(message);
      }
      logger.error(
        { err, opId: op.opId, attempt, status: stands },
        'op closed after its last attempt',
      );
      return { opId: op.opId, status: stands ?? 'missing', duplicate: false };
    }
  };
}
