import type { JobPayload, Logger, Tracer } from '../core/index.ts';
import type { Metrics } from '../metrics/index.ts';
import type {
  AcceptInput,
  AcceptResult,
  AuditLog,
  DeadLetters,
  Ledger,
  RecordStore,
} from '../store/index.ts';
import type { Admission } from './admission.ts';
import type { Authenticate } from './middleware/admin-auth.ts';
import type { RateLimits } from './middleware/rate-limit.ts';
import type { OpWaiter } from './op-waiter.ts';
import type { QueueBoardDeps } from './routes/queue-board.ts';

/** Everything the HTTP layer needs, built by a composition root. */
export interface ApiDeps {
  ledger: Ledger;
  records: RecordStore;
  deadLetters: DeadLetters;
  /**
   * Puts one job on the queue under `jobId`; a no-op when that job exists already. Rejects when
   * the queue Redis cannot take it.
   */
  enqueue(payload: JobPayload, jobId: string): Promise<void>;
  /**
   * Accepts a write and adds its job (id = op id, no version in it) in one round trip to the
   * queue Redis, which runs them in that order; if the add fails the acceptance is taken back.
   * Answers what acceptance said (a repeat, a stale decision and a refused replay add a job that
   * has no receipt, which workers drop). Rejects with an AppError (QUEUE_UNAVAILABLE) when the
   * queue Redis cannot take it.
   */
  acceptAndEnqueue(accept: AcceptInput, payload: JobPayload): Promise<AcceptResult>;
  /** Whether a write may be accepted now: backlog and memory of both Redis (see admission.ts). */
  admission: Admission;
  /** How long a conditional write waits for the key's pending writes before 503 KEY_BUSY. */
  keyBusyWaitMs: number;
  waiter: OpWaiter;
  logger: Logger;
  /**
   * A log line per request: true = at info level, false = never, unset = at debug level only
   * (see middleware/access-log.ts).
   */
  accessLog?: boolean | undefined;
  /**
   * Spans for requests (and, through acceptAndEnqueue, for acceptance); unset = tracing off, and
   * no span is started anywhere.
   */
  tracer?: Tracer | undefined;
  /** HTTP request metrics (and ops accepted); unset = none. */
  metrics?: Pick<Metrics, 'observeRequest' | 'auditWriteFailed'> | undefined;
  limits: { maxKeyBytes: number; maxValueBytes: number };
  readAfterWaitMs: number;
  docsEnabled: boolean;
  /** Rate limits on /v1 routes (see middleware/rate-limit.ts); unset = none. */
  rateLimits?: RateLimits | undefined;
  /** Bearer tokens accepted on /v1 routes; empty = no authentication. */
  apiTokens: readonly string[];
  /**
   * Who a request's credentials name, for the admin routes (audit log, dead-letter actions, queue
   * dashboard). Unset: built from apiTokens (every token an admin), none when there are none.
   */
  authenticate?: Authenticate | undefined;
  /** The audit log of admin actions (data Redis). */
  auditLog: AuditLog;
  /** The current trace id for audit entries, when tracing is on. */
  traceId?: (() => string | undefined) | undefined;
  /** The read-only queue dashboard at /admin/queues; unset = not served (ADMIN_UI). */
  board?: QueueBoardDeps | undefined;
  /** True once shutdown began: /readyz fails and writes are refused. */
  isShuttingDown(): boolean;
}
