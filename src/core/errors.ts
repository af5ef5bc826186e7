/**
 * One catalogue of error codes. HTTP status, title and whether a worker should retry are data here,
 * not `if`s scattered through the code.
 */
export const ERRORS = {
  MALFORMED_JSON: { status: 400, retryable: false, title: 'Malformed JSON body' },
  VALIDATION_FAILED: { status: 400, retryable: false, title: 'Request validation failed' },
  INVALID_KEY: { status: 400, retryable: false, title: 'Invalid key' },
  INVALID_CURSOR: { status: 400, retryable: false, title: 'Invalid cursor' },
  INVALID_HEADER: { status: 400, retryable: false, title: 'Invalid header' },
  UNAUTHORIZED: { status: 401, retryable: false, title: 'Missing or invalid bearer token' },
  /** The key is valid but its scope is below what the route needs (see api/access.ts). */
  INSUFFICIENT_SCOPE: { status: 403, retryable: false, title: 'Insufficient scope' },
  /** The key's prefix rules do not let it touch this key (or list under this prefix). */
  KEY_FORBIDDEN: { status: 403, retryable: false, title: 'Key outside the allowed prefixes' },
  API_KEY_NOT_FOUND: { status: 404, retryable: false, title: 'No such API key' },
  KEY_NOT_FOUND: { status: 404, retryable: false, title: 'Key not found' },
  OP_NOT_FOUND: { status: 404, retryable: false, title: 'Operation not found' },
  ROUTE_NOT_FOUND: { status: 404, retryable: false, title: 'No such route' },
  METHOD_NOT_ALLOWED: { status: 405, retryable: false, title: 'Method not allowed' },
  KEY_EXISTS: { status: 409, retryable: false, title: 'Key already exists' },
  PRECONDITION_FAILED: { status: 412, retryable: false, title: 'Precondition failed' },
  PAYLOAD_TOO_LARGE: { status: 413, retryable: false, title: 'Request body too large' },
  VALUE_TOO_LARGE: { status: 413, retryable: false, title: 'Value too large' },
  KEY_TOO_LONG: { status: 414, retryable: false, title: 'Key too long' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, retryable: false, title: 'Unsupported media type' },
  IDEMPOTENCY_KEY_REUSED: {
    status: 422,
    retryable: false,
    title: 'Idempotency key reused with a different request',
  },
  /** Over the caller's rate limit (per API key, or per client address); see Retry-After. */
  RATE_LIMITED: { status: 429, retryable: true, title: 'Too many requests' },
  DEAD_LETTER_NOT_FOUND: { status: 404, retryable: false, title: 'No such dead letter' },
  NOT_REPLAYABLE: { status: 409, retryable: false, title: 'Dead letter cannot be replayed' },
  HEADERS_TOO_LARGE: { status: 431, retryable: false, title: 'Request headers too large' },
  BAD_REQUEST: { status: 400, retryable: false, title: 'Malformed HTTP request' },
  OP_PENDING: { status: 503, retryable: true, title: 'Operation not finished yet' },
  /**
   * A conditional write (or a delete or create) is decided against the key with none of its
   * writes pending; they did not finish within KEY_BUSY_WAIT_MS.
   */
  KEY_BUSY: { status: 503, retryable: true, title: 'Writes to this key are still pending' },
  BACKLOG_FULL: { status: 503, retryable: true, title: 'Write backlog full' },
  QUEUE_UNAVAILABLE: { status: 503, retryable: true, title: 'Queue store unavailable' },
  DATA_UNAVAILABLE: { status: 503, retryable: true, title: 'Data store unavailable' },
  SHUTTING_DOWN: { status: 503, retryable: true, title: 'Shutting down' },
  /** A job whose payload does not parse: retrying cannot help. */
  MALFORMED_JOB: { status: 500, retryable: false, title: 'Malformed job' },
  /** An op older than the fencing window: applying it could resurrect stale data. */
  OP_EXPIRED: { status: 409, retryable: false, title: 'Operation outside the fencing window' },
  /**
   * A write's acceptance did not reach MIN_REPLICA_ACKS replicas of the queue Redis within
   * REPLICA_ACK_TIMEOUT_MS: it may or may not take effect (retry with the same Idempotency-Key).
   */
  WRITE_NOT_REPLICATED: {
    status: 503,
    retryable: true,
    title: 'Write accepted by the primary but not yet by its replicas; outcome unknown',
  },
  /**
   * A read with `consistency=replicated`: MIN_REPLICA_ACKS replicas of the data Redis did not
   * confirm within REPLICA_ACK_TIMEOUT_MS that they hold what the primary answered.
   */
  READ_NOT_REPLICATED: {
    status: 503,
    retryable: true,
    title: 'Value read from the primary is not yet on its replicas',
  },
  /** An apply did not reach MIN_REPLICA_ACKS replicas of the data Redis in time (worker-side). */
  DATA_NOT_REPLICATED: { status: 503, retryable: true, title: 'Apply not yet replicated' },
  /**
   * After a failover of the queue Redis lost acceptances, the op's version was issued again to
   * another write, which holds it in the data Redis: this op is not applied (a failed outcome).
   */
  VERSION_REISSUED: {
    status: 409,
    retryable: false,
    title: 'Version issued twice after a queue Redis failover',
  },
  INTERNAL: { status: 500, retryable: false, title: 'Internal error' },
  /** The queue Redis is (nearly) out of memory: nothing more can be accepted until it frees. */
  QUEUE_FULL: { status: 503, retryable: true, title: 'Queue store full' },
  /** The data Redis is (nearly) out of memory: an accepted write could not be applied. */
  DATA_FULL: { status: 503, retryable: true, title: 'Data store full' },
} as const satisfies Record<string, { status: number; retryable: boolean; title: string }>;

export type ErrorCode = keyof typeof ERRORS;

export interface FieldError {
  path: string;
  message: string;
}

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly detail: string;
  readonly errors: readonly FieldError[] | undefined;
  /** Extra response headers, e.g. Allow or Retry-After. */
  readonly headers: Readonly<Record<string, string>>;
  /** Extension members of the problem document (RFC 9457 section 3.2). */
  readonly extensions: Readonly<Record<string, unknown>>;

  constructor(
    code: ErrorCode,
    detail?: string,
    opts: {
      cause?: unknown;
      errors?: FieldError[];
      headers?: Record<string, string>;
      extensions?: Record<string, unknown>;
    } = {},
  ) {
    super(detail ?? ERRORS[code].title, { cause: opts.cause });
    this.name = 'AppError';
    this.code = code;
    this.detail = detail ?? ERRORS[code].title;
    this.errors = opts.errors;
    this.headers = opts.headers ?? {};
    this.extensions = opts.extensions ?? {};
  }

  get status(): number {
    return ERRORS[this.code].status;
  }

  get retryable(): boolean {
    return ERRORS[this.code].retryable;
  }
}

export function isAppError(e: unknown): e is AppError {
  return e instanceof AppError;
}

/**
 * Redis/network errors that are worth retrying. Matched on `code` or message, because ioredis
 * surfaces connection loss as plain Errors with these texts.
 */
const TRANSIENT_ERROR_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);
const TRANSIENT_MESSAGE_PATTERNS = [
  /Connection is closed/i,
  /Stream isn't writeable/i,
  /enableOfflineQueue/i,
  /Command timed out/i,
  /max retries per request/i,
  /^LOADING\b/,
  /^BUSY\b/,
  /^TRYAGAIN\b/,
  /^CLUSTERDOWN\b/,
  /^MASTERDOWN\b/,
  // A primary demoted by a Sentinel failover (the client reconnects, see redis/clients.ts), or a
  // primary refusing writes while fewer than min-replicas-to-write replicas are in sync.
  /^READONLY\b/,
  /^NOREPLICAS\b/,
  // ioredis Cluster: no node answered CLUSTER SLOTS (ClusterAllFailedError), none of the startup
  // nodes is reachable, or the cluster connection is mid-reconnect.
  /Failed to refresh slots cache/i,
  /None of startup nodes is available/i,
  /Cluster is disconnect/i,
  /Cluster isn't ready/i,
  // ioredis Cluster gave up following MOVED / CLUSTERDOWN answers while a failover settles.
  /Too many Cluster redirections/i,
  // ioredis Sentinel: no Sentinel answered (older ioredis words it "None of the sentinels …").
  /All sentinels are unreachable/i,
  /None of the sentinels are available/i,
  /^NOSCRIPT\b/,
  /Reached the max retries/i,
  // A full Redis (maxmemory, noeviction) frees memory as receipts expire or an operator acts.
  /^OOM\b/,
];

/** True when an error (an AppError or a raw Redis/network error) is worth retrying. */
export function isTransient(e: unknown): boolean {
  if (e instanceof AppError) return e.retryable;
  if (!(e instanceof Error)) return false;
  const code = (e as { code?: unknown }).code;
  if (typeof code === 'string' && TRANSIENT_ERROR_CODES.has(code)) return true;
  return TRANSIENT_MESSAGE_PATTERNS.some((re) => re.test(e.message));
}

/** True for Redis' refusal of a write while over `maxmemory` (`-OOM command not allowed ...`). */
export function isOutOfMemory(e: unknown): boolean {
  return e instanceof Error && /^OOM\b/.test(e.message);
}
