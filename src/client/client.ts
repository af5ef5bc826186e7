import {
  type ClientOptions,
  type KvqClient,
  MAX_WAIT_SECONDS,
  type Wait,
  type WriteOptions,
  type WriteResult,
} from './contract.ts';
import { errorFromResponse, KvqError } from './errors.ts';
import {
  type ApiKey,
  type AuditPage,
  type CreatedApiKey,
  type DeadLetter,
  type DeadLetterPage,
  type Health,
  isTerminal,
  type KeyListPage,
  type KeyRecord,
  type OpReceipt,
  type ReplayAllResult,
} from './types.ts';

/**
 * Refuses a key the server refuses by its name alone, before anything is sent: an empty key, and a
 * key with a `.` or `..` segment between "/". A URL parser (and so fetch) resolves such a segment
 * (`a/../b` becomes `b`), so the request would reach another key; the server answers 400
 * INVALID_KEY for these keys, and the client throws the same error itself.
 */
export function checkKey(key: string): void {
  const detail =
    key === ''
      ? 'the key is empty'
      : key.split('/').some((s) => s === '.' || s === '..')
        ? 'the key has a "." or ".." segment between "/"; no request was sent'
        : undefined;
  if (detail !== undefined) {
    throw new KvqError({ code: 'INVALID_KEY', status: 400, title: 'Invalid key', detail });
  }
}

/**
 * Path of a key: each "/"-separated segment percent-encoded, the "/" kept. Throws INVALID_KEY
 * (see checkKey) for a key no URL can name.
 */
export function keyPath(key: string): string {
  checkKey(key);
  return `/v1/keys/${key.split('/').map(encodeURIComponent).join('/')}`;
}

/**
 * Why `url` cannot be the API's root, or undefined when it can. Retrying never helps with these,
 * so they are INVALID_URL errors rather than UNREACHABLE.
 */
function urlProblem(url: string): string | undefined {
  if (!URL.canParse(url)) {
    return `"${url}" is not a URL; give the API's root, e.g. http://127.0.0.1:8080`;
  }
  const u = new URL(url);
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    return `"${url}" is not an http(s) URL; give the API's root, e.g. http://127.0.0.1:8080`;
  }
  // Not echoed: the URL carries a secret.
  if (u.username !== '' || u.password !== '') {
    return 'the URL carries a user name or password; pass a bearer token as the token option';
  }
  if (/[?#]/.test(url)) return `"${url}" has a query or fragment; give the API's root`;
  return undefined;
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
  const badUrl = urlProblem(options.url);
  const doFetch = options.fetch ?? fetch;
  const timeoutMs = options.timeoutMs ?? 60_000;

  async function send(req: Request): Promise<Response> {
    if (badUrl !== undefined)
      throw new KvqError({ code: 'INVALID_URL', status: 0, detail: badUrl });
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
    async get(key, o = {}) {
      return json<KeyRecord>({
        method: 'GET',
        path: keyPath(key) + queryString({ after: o.after, consistency: o.consistency }),
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
    async put(key, value, o = {}) {
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
    async create(key, value, o = {}) {
      checkKey(key);
      const w = writeHeaders(o);
      return write({
        method: 'POST',
        path: '/v1/keys',
        headers: w.headers,
        body: { key, value, ...(o.ttlSeconds === undefined ? {} : { ttlSeconds: o.ttlSeconds }) },
        waitMs: w.waitMs,
      });
    },
    async delete(key, o = {}) {
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
    listAuditEntries(q = {}) {
      return json<AuditPage>({ method: 'GET', path: `/v1/admin/audit${queryString(q)}` });
    },
    async discardDeadLetter(opId) {
      await send({ method: 'DELETE', path: dlqPath(opId) });
    },
    createApiKey(input) {
      return json<CreatedApiKey>({ method: 'POST', path: '/v1/admin/keys', body: input });
    },
    async listApiKeys() {
      return (await json<{ items: ApiKey[] }>({ method: 'GET', path: '/v1/admin/keys' })).items;
    },
    getApiKey(id) {
      return json<ApiKey>({ method: 'GET', path: `/v1/admin/keys/${encodeURIComponent(id)}` });
    },
    async revokeApiKey(id) {
      await send({ method: 'DELETE', path: `/v1/admin/keys/${encodeURIComponent(id)}` });
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
