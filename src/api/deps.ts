import type { JobPayload, Logger, Tracer } from '../core/index.ts';
import type { Metrics } from '../metrics/index.ts';
import type {
  AcceptInput,
  AcceptResult,
  ApiKeyStore,
  AuditLog,
  DeadLetters,
  Ledger,
  RecordStore,
} from '../store/index.ts';
import type { Admission } from './admission.ts';
import type { Authenticator, DenialReason } from './auth/authenticator.ts';
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
  /**
   * API-key authentication of /v1 routes (AUTH=keys); unset = none (AUTH=off). Both lanes use it,
   * with the route table in access.ts.
   */
  auth?: Authenticator | undefined;
  /** API keys in the data Redis, for the admin API (/v1/admin/keys). */
  apiKeys: ApiKeyStore;
  /**
   * Called once per refused request with why (missing, malformed, bad_checksum, unknown, expired,
   * revoked, insufficient_scope, prefix_forbidden): the hook for kvq_auth_denials_total.
   */
  onAuthDenied?: ((reason: DenialReason) => void) | undefined;
  /** The audit log of admin actions (data Redis). */
  auditLog: AuditLog;
  /** The current trace id for audit entries, when tracing is on. */
  traceId?: (() => string | undefined) | undefined;
  /** The read-only queue dashboard at /admin/queues; unset = not served (ADMIN_UI). */
  board?: QueueBoardDeps | undefined;
  /** True once shutdown began: /readyz fails and writes are refused. */
  isShuttingDown(): boolean;
}
