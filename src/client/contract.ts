import type {
  ApiKey,
  AuditPage,
  CreateApiKeyInput,
  CreatedApiKey,
  DeadLetter,
  DeadLetterPage,
  DeadLetterSummary,
  Health,
  JsonValue,
  KeyListItem,
  KeyListPage,
  KeyRecord,
  ListAuditEntriesQuery,
  ListDeadLettersQuery,
  ListKeysQuery,
  OpReceipt,
  OpStatus,
  ReplayAllResult,
} from './types.ts';

/** What the client offers: its options, results and methods. */
/** The longest `Prefer: wait` the server honours, in seconds. */
export const MAX_WAIT_SECONDS = 30;

export interface ClientOptions {
  /** Base URL of the API, e.g. http://127.0.0.1:8080. */
  url: string;
  /** Bearer token, sent as `Authorization: Bearer <token>` (API_TOKENS on the server). */
  token?: string | undefined;
  /** Gives up on a request after this many ms (TIMEOUT); default 60 000, longer than any wait. */
  timeoutMs?: number | undefined;
  /** Extra headers on every request. */
  headers?: Record<string, string> | undefined;
  /** The fetch to use (default: the global fetch). */
  fetch?: typeof fetch | undefined;
}

/**
 * `Prefer: wait`: answer once the write is applied (or failed), for up to this many seconds
 * (true = the longest the server honours). Without it a write answers as soon as it is queued.
 */
export type Wait = boolean | number;

export interface WriteOptions {
  wait?: Wait | undefined;
  /** Idempotency-Key: a retry with the same key and request returns the original op. */
  idempotencyKey?: string | undefined;
}

export interface PutOptions extends WriteOptions {
  ttlSeconds?: number | undefined;
  /** If-Match: write only if the key is at this version (or exists at all, with '*'). */
  ifMatch?: number | '*' | undefined;
  /** If-None-Match: '*' writes only if the key does not exist. */
  ifNoneMatch?: '*' | undefined;
}

export interface DeleteOptions extends WriteOptions {
  /** If-Match: delete only if the key is at this version (or exists at all, with '*'). */
  ifMatch?: number | '*' | undefined;
}

export interface CreateOptions extends WriteOptions {
  ttlSeconds?: number | undefined;
}

export interface GetOptions {
  /** Read your write: wait until this op is terminal, then read (503 OP_PENDING if not in time). */
  after?: string | undefined;
  /** With `after`: how long to wait, in seconds (the server's READ_AFTER_WAIT_MS otherwise). */
  waitSeconds?: number | undefined;
  /**
   * `replicated`: answer only once MIN_REPLICA_ACKS replicas of the data Redis hold what was read,
   * as durable as an applied write: a failover that keeps acknowledged writes keeps it (with
   * MIN_REPLICA_ACKS=0, no more than a primary read). 503 READ_NOT_REPLICATED if they do not
   * confirm in time.
   * `primary` (the default): what the primary holds now.
   */
  consistency?: 'primary' | 'replicated' | undefined;
}

/**
 * What a write answered. `accepted` (202): the op is queued, with its receipt; also when a wait
 * ended before the op finished. After a wait, the op's terminal status: an applied put carries
 * the record and whether it created the key; an applied delete (204) carries no receipt.
 * A failed condition is thrown as a KvqError (PRECONDITION_FAILED, KEY_EXISTS).
 */
export interface WriteResult {
  outcome: 'accepted' | OpStatus;
  /** The op's receipt; absent only for a delete answered 204 after a wait. */
  op?: OpReceipt;
  /** An applied put or create, after a wait. */
  record?: KeyRecord;
  /** An applied put or create, after a wait: true when it created the key (201). */
  created?: boolean;
}

export interface WaitForOpOptions {
  /** Give up after this many ms and return the receipt as it stands; default 60 000. */
  timeoutMs?: number | undefined;
}

export interface ReplayOptions {
  /** Replay even if the key accepted a later write (the old value then overwrites newer data). */
  force?: boolean | undefined;
  wait?: Wait | undefined;
}

export interface KvqClient {
  /** Reads a key; throws KvqError KEY_NOT_FOUND when it does not exist. */
  get(key: string, options?: GetOptions): Promise<KeyRecord>;
  /** Reads a key unless it is still at `version` (If-None-Match); null when unchanged. */
  getIfChanged(key: string, version: number): Promise<KeyRecord | null>;
  /** HEAD: the key's version, or null when it does not exist. */
  head(key: string): Promise<{ version: number } | null>;
  /** Creates or replaces a key (queued). */
  put(key: string, value: JsonValue, options?: PutOptions): Promise<WriteResult>;
  /** Creates a key that must not exist yet (POST /v1/keys); KEY_EXISTS otherwise. */
  create(key: string, value: JsonValue, options?: CreateOptions): Promise<WriteResult>;
  /** Deletes a key (queued). */
  delete(key: string, options?: DeleteOptions): Promise<WriteResult>;
  /** One page of live keys in byte order. */
  listKeys(query?: ListKeysQuery): Promise<KeyListPage>;
  /** Every live key (under `prefix`), page after page (`limit`: keys per page). */
  keys(query?: Omit<ListKeysQuery, 'cursor'>): AsyncGenerator<KeyListItem>;
  /** A write's receipt; with waitSeconds, long-polls until it is terminal or the time is up. */
  getOp(id: string, options?: { waitSeconds?: number | undefined }): Promise<OpReceipt>;
  /** Long-polls a receipt until it is terminal or timeoutMs pass; returns it as it then stands. */
  waitForOp(id: string, options?: WaitForOpOptions): Promise<OpReceipt>;
  /** One page of dead-lettered ops, newest first. */
  listDeadLetters(query?: ListDeadLettersQuery): Promise<DeadLetterPage>;
  /** Every dead-lettered op, page after page (`limit`: entries per page). */
  deadLetters(query?: Omit<ListDeadLettersQuery, 'cursor'>): AsyncGenerator<DeadLetterSummary>;
  getDeadLetter(opId: string): Promise<DeadLetter>;
  /** Replays a dead op as a new op (new id and version, replayOf = the dead one). */
  replayDeadLetter(opId: string, options?: ReplayOptions): Promise<WriteResult>;
  /** One page of the audit log of admin actions, newest first (admin scope). */
  listAuditEntries(query?: ListAuditEntriesQuery): Promise<AuditPage>;
  /** Replays every dead op (under `prefix`): how many were replayed and skipped. */
  replayAllDeadLetters(options?: {
    prefix?: string | undefined;
    force?: boolean | undefined;
  }): Promise<ReplayAllResult>;
  /** Discards a dead letter (its receipt stays dead). */
  discardDeadLetter(opId: string): Promise<void>;
  /** Creates an API key (admin scope); the answer holds its secret, shown this once. */
  createApiKey(input: CreateApiKeyInput): Promise<CreatedApiKey>;
  /** Every API key in the data Redis, revoked ones included (no secrets). */
  listApiKeys(): Promise<ApiKey[]>;
  getApiKey(id: string): Promise<ApiKey>;
  /** Revokes an API key (again: no change); it stops working within the server's KEY_CACHE_MS. */
  revokeApiKey(id: string): Promise<void>;
  /** GET /healthz. */
  health(): Promise<Health>;
  /** GET /readyz: `status` is "ready", or "not ready" (answered 503) with the failing checks. */
  ready(): Promise<Health>;
}
