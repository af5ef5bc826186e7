import { errorFromResponse, KvqError } from './errors.ts';
import {
  type DeadLetter,
  type DeadLetterPage,
  type DeadLetterSummary,
  type Health,
  isTerminal,
  type JsonValue,
  type KeyListItem,
  type KeyListPage,
  type KeyRecord,
  type ListDeadLettersQuery,
  type ListKeysQuery,
  type OpReceipt,
  type OpStatus,
  type ReplayAllResult,
} from './types.ts';

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
  /** Replays every dead op (under `prefix`): how many were replayed and skipped. */
  replayAllDeadLetters(options?: {
    prefix?: string | undefined;
    force?: boolean | undefined;
  }): Promise<ReplayAllResult>;
  /** Discards a dead letter (its receipt stays dead). */
  discardDeadLetter(opId: string): Promise<void>;
  /** GET /healthz. */
  health(): Promise<Health>;
  /** GET /readyz: `status` is "ready", or "not ready" (answered 503) with the failing checks. */
  ready(): Promise<Health>;
}

/** Path of a key: each "/"-separated segment percent-encoded, the "/" kept. */
export function keyPath(key: string): string {
  return `/v1/keys/${key.split('/').map(encodeURIComponent).join('/')}`;
}

const opPath = (id: string) => `/v1/ops/${encodeURIComponent(id)}`;
const dlqPath = (id: string) => `/v1/dlq/${encodeURIComponent(id)}`;

function waitSeconds(wait: Wait | undefined): number | undefined {
  if (wait === undefined || wait === false) return undefined;
  if (wait === true) return MAX_WAIT_SECONDS;
  if (!Number.isInteger(wait) || wait < 0) {
    throw new TypeError('wait must be true or a whole number of seconds');
  }
  return Math.min(wait, MAX_WAIT_SECONDS);
}

function etag(version: number | '*'): string {
  return version === '*' ? '*' : `"${String(version)}"`;
}

function queryString(q: Record<string, string | number | boolean | undefined>): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) if (v !== undefined) params.set(k, String(v));
  const s = params.toString();
  return s ? `?${s}` : '';
}

interface Request {
  method: 'GET' | 'HEAD' | 'PUT' | 'POST' | 'DELETE';
  path: string;
  headers?: Record<string, string | undefined>;
  body?: unknown;
  /** Statuses answered rather than thrown (besides 2xx). */
  accept?: number[];
  /** Extra time for a request that waits on the server. */
  waitMs?: number;
}

/** A typed client for kvq's HTTP API. */
export function createClient(options: ClientOptions): KvqClient {
  const base = options.url.replace(/\/+$/, '');
  const doFetch = options.fetch ?? fetch;
  const timeoutMs = options.timeoutMs ?? 60_000;

  async function send(req: Request): Promise<Response> {
    const headers: Record<string, string> = { Accept: 'application/json', ...options.headers };
    if (options.token !== undefined) headers.Authorization = `Bearer ${options.token}`;
    for (const [k, v] of Object.entries(req.headers ?? {})) if (v !== undefined) headers[k] = v;
    let body: string | undefined;
    if (req.body !== undefined) {
      body = JSON.stringify(req.body);
      headers['Content-Type'] = 'application/json';
    }
    const limit = timeoutMs + (req.waitMs ?? 0);
    let res: Response;
    try {
      res = await doFetch(base + req.path, {
        method: req.method,
        headers,
        body,
        signal: AbortSignal.timeout(limit),
      });
    } catch (err) {
      const timedOut = err instanceof DOMException && err.name === 'TimeoutError';
      throw new KvqError(
        timedOut
          ? { code: 'TIMEOUT', status: 0, detail: `no answer from ${base} in ${String(limit)} ms` }
          : { code: 'UNREACHABLE', status: 0, detail: `cannot reach ${base}: ${reason(err)}` },
        { cause: err },
      );
    }
    if (res.ok || req.accept?.includes(res.status)) return res;
    throw await errorFromResponse(res);
  }

  async function json<T>(req: Request): Promise<T> {
    return body<T>(await send(req));
  }

  async function body<T>(res: Response): Promise<T> {
    const text = await res.text();
    try {
      return JSON.parse(text) as T;
    } catch (err) {
      const detail = `${String(res.status)} answer is not JSON: ${text.slice(0, 200)}`;
      throw new KvqError(
        { code: `HTTP_${String(res.status)}`, status: res.status, detail },
        { cause: err },
      );
    }
  }

  /** Turns a write's answer (202, or after a wait 200/201/204) into a WriteResult. */
  async function write(req: Request): Promise<WriteResult> {
    const res = await send(req);
    if (res.status === 204) return { outcome: 'applied' };
    const answer = await body<(KeyRecord & { op: OpReceipt }) | { op: OpReceipt }>(res);
    if (res.status === 202) return { outcome: 'accepted', op: answer.op };
    if ('version' in answer) {
      const { op, ...record } = answer;
      return { outcome: 'applied', op, record, created: res.status === 201 };
    }
    return { outcome: answer.op.status, op: answer.op };
  }

  async function* pages<T>(
    fetchPage: (cursor: string | undefined) => Promise<{ items: T[]; nextCursor: string | null }>,
  ): AsyncGenerator<T> {
    let cursor: string | undefined;
    do {
      const page = await fetchPage(cursor);
      yield* page.items;
      cursor = page.nextCursor ?? undefined;
    } while (cursor !== undefined);
  }

  const writeHeaders = (o: WriteOptions) => {
    const s = waitSeconds(o.wait);
    return {
      headers: {
        Prefer: s === undefined ? undefined : `wait=${String(s)}`,
        'Idempotency-Key': o.idempotencyKey,
      },
      waitMs: (s ?? 0) * 1000,
    };
  };

  const client: KvqClient = {
    get(key, o = {}) {
      return json<KeyRecord>({
        method: 'GET',
        path: keyPath(key) + queryString({ after: o.after }),
        headers: {
          Prefer: o.waitSeconds === undefined ? undefined : `wait=${String(o.waitSeconds)}`,
        },
        waitMs: o.after === undefined ? 0 : (o.waitSeconds ?? MAX_WAIT_SECONDS) * 1000,
      });
    },
    async getIfChanged(key, version) {
      const res = await send({
        method: 'GET',
        path: keyPath(key),
        headers: { 'If-None-Match': etag(version) },
        accept: [304],
      });
      return res.status === 304 ? null : body<KeyRecord>(res);
    },
    async head(key) {
      const res = await send({ method: 'HEAD', path: keyPath(key), accept: [404] });
      if (res.status === 404) return null;
      const tag = /^(?:W\/)?"(\d+)"$/.exec(res.headers.get('ETag') ?? '');
      if (!tag?.[1]) {
        throw new KvqError({ code: 'HTTP_200', status: res.status, detail: 'HEAD without ETag' });
      }
      return { version: Number(tag[1]) };
    },
    put(key, value, o = {}) {
      const w = writeHeaders(o);
      return write({
        method: 'PUT',
        path: keyPath(key),
        headers: {
          ...w.headers,
          'If-Match': o.ifMatch === undefined ? undefined : etag(o.ifMatch),
          'If-None-Match': o.ifNoneMatch,
        },
        body: { value, ...(o.ttlSeconds === undefined ? {} : { ttlSeconds: o.ttlSeconds }) },
        waitMs: w.waitMs,
      });
    },
    create(key, value, o = {}) {
      const w = writeHeaders(o);
      return write({
        method: 'POST',
        path: '/v1/keys',
        headers: w.headers,
        body: { key, value, ...(o.ttlSeconds === undefined ? {} : { ttlSeconds: o.ttlSeconds }) },
        waitMs: w.waitMs,
      });
    },
    delete(key, o = {}) {
      const w = writeHeaders(o);
      return write({
        method: 'DELETE',
        path: keyPath(key),
        headers: {
          ...w.headers,
          'If-Match': o.ifMatch === undefined ? undefined : etag(o.ifMatch),
        },
        waitMs: w.waitMs,
      });
    },
    listKeys(q = {}) {
      return json<KeyListPage>({ method: 'GET', path: `/v1/keys${queryString(q)}` });
    },
    keys(q = {}) {
      return pages((cursor) => client.listKeys({ ...q, cursor }));
    },
    getOp(id, o = {}) {
      const s = o.waitSeconds === undefined ? undefined : waitSeconds(o.waitSeconds);
      return json<{ op: OpReceipt }>({
        method: 'GET',
        path: opPath(id),
        headers: { Prefer: s === undefined ? undefined : `wait=${String(s)}` },
        waitMs: (s ?? 0) * 1000,
      }).then((b) => b.op);
    },
    async waitForOp(id, o = {}) {
      const end = Date.now() + (o.timeoutMs ?? 60_000);
      for (;;) {
        const started = Date.now();
        const left = Math.ceil((end - started) / 1000);
        const op = await client.getOp(id, {
          waitSeconds: Math.max(0, Math.min(left, MAX_WAIT_SECONDS)),
        });
        if (isTerminal(op) || Date.now() >= end) return op;
        // A server that answered at once (no long poll) is not asked again at once.
        if (Date.now() - started < 100) await new Promise((r) => setTimeout(r, 100));
      }
    },
    listDeadLetters(q = {}) {
      return json<DeadLetterPage>({ method: 'GET', path: `/v1/dlq${queryString(q)}` });
    },
    deadLetters(q = {}) {
      return pages((cursor) => client.listDeadLetters({ ...q, cursor }));
    },
    getDeadLetter(opId) {
      return json<DeadLetter>({ method: 'GET', path: dlqPath(opId) });
    },
    replayDeadLetter(opId, o = {}) {
      const w = writeHeaders({ wait: o.wait });
      return write({
        method: 'POST',
        path: `${dlqPath(opId)}/retry${queryString({ force: o.force })}`,
        headers: w.headers,
        waitMs: w.waitMs,
      });
    },
    replayAllDeadLetters(o = {}) {
      return json<ReplayAllResult>({
        method: 'POST',
        path: `/v1/dlq/retry${queryString({ prefix: o.prefix, force: o.force })}`,
      });
    },
    async discardDeadLetter(opId) {
      await send({ method: 'DELETE', path: dlqPath(opId) });
    },
    health() {
      return json<Health>({ method: 'GET', path: '/healthz' });
    },
    ready() {
      return json<Health>({ method: 'GET', path: '/readyz', accept: [503] });
    },
  };
  return client;
}

function reason(err: unknown): string {
  if (err instanceof Error) {
    const cause = err.cause as { code?: unknown; message?: unknown } | undefined;
    if (typeof cause?.code === 'string') return cause.code;
    if (typeof cause?.message === 'string') return cause.message;
    return err.message;
  }
  return String(err);
}
