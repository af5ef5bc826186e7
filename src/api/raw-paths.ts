import type { IncomingMessage, ServerResponse } from 'node:http';

import type { AppError, Condition, Principal } from '../core/index.ts';
import { gateFromMemory } from './auth/gate.ts';
import type { ApiDeps } from './deps.ts';
import { parseIdempotencyKey, parseWriteCondition } from './http-headers.ts';
import { decodeBody, readJsonBody } from './json-value.ts';
import { keyFromUrl } from './key-path.ts';
import { createRequestRecorder } from './middleware/access-log.ts';
import { answerableError, validationError } from './middleware/errors.ts';
import { JSON_TYPE, maxWriteBodyBytes } from './middleware/json-body.ts';
import { limitNodeRequest, refusedBeforeAuth } from './middleware/rate-limit.ts';
import { checkRequestTarget, headerLines, requestIdFrom } from './middleware/request-context.ts';
import { createRequestTracer } from './middleware/trace-request.ts';
import { problemParts } from './problem.ts';
import { readResponse, type ResponseParts } from './render.ts';
import { putBody } from './schemas.ts';
import { submitPut } from './write-flow.ts';

/** A request header as Hono's adapter sees it (repeated headers joined). */
const header = (req: IncomingMessage, name: string): string | undefined => {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
};

const KEY_PREFIX = '/v1/keys/';
/** The route label of both routes here, as Hono's key routes are labelled (see access-log.ts). */
const KEY_ROUTE = '/v1/keys/{key}';

/** The routes this lane takes (the check below says which requests); Hono serves them too. */
export const RAW_ROUTES = [
  { method: 'GET', path: '/v1/keys/{key}' },
  { method: 'PUT', path: '/v1/keys/{key}' },
] as const;

/**
 * Request targets taken here: a key path of visible ASCII without query, fragment or backslash,
 * with a plain Host. Anything else goes to Hono, whose Node adapter rejects odd hosts and targets.
 */
const PLAIN_KEY_URL = /^\/v1\/keys\/[!$%&-;=@-[\]_a-z~]+$/;
const PLAIN_HOST = /^[a-z0-9._-]+(?::\d{1,5})?$/;

/**
 * The two hot routes, `GET /v1/keys/{key}` and `PUT /v1/keys/{key}`, served straight from
 * node:http without building a web Request, a Hono context or a web Response. A deviation from the
 * house layout (every route in Hono), made for throughput and measured in BENCHMARKS.md: through
 * Hono, a read or a write cost ~1.5x the CPU of these paths on the same machine. They answer
 * exactly what the Hono routes answer (same status, headers and problem+json bodies; the
 * integration tests run against the real server and so go through here, and one test compares
 * both paths request by request), because both call the same code below the transport:
 * the request context (request-context.ts: target check, request id), authentication and the
 * route table (auth/, access.ts), the rate limits (middleware/rate-limit.ts), keyFromUrl,
 * the header parsers, the zod body schema, submitPut, readResponse, problemParts and
 * answerableError. This file decides nothing about a request itself; it is an adapter.
 *
 * They only take the plain case and return false, before reading anything, for all else, which
 * Hono then serves: other methods and paths, a query string (`?after=` read-your-writes), a
 * body that is not `application/json` with a Content-Length within the limit, and any request
 * that one of the shared checks refuses (a dot segment, a bad or repeated Authorization, a key
 * outside the caller's prefixes, a key or header that fails validation), and an API key not yet
 * verified within KEY_CACHE_MS: Hono runs the same checks (awaiting the key store) and renders the
 * refusal.
 */
export function createRawPaths(
  deps: ApiDeps,
): (req: IncomingMessage, res: ServerResponse) => boolean {
  const record = createRequestRecorder(deps);
  const traceRequest = createRequestTracer(deps.tracer);
  const limits = deps.rateLimits;

  /** `fields`: the RateLimit fields of the request, when a limit applies. */
  type Fields = Readonly<Record<string, string>> | undefined;
  const send = (res: ServerResponse, p: ResponseParts, fields?: Fields) => {
    const headers = fields ? Object.assign(p.headers, fields) : p.headers;
    // Framing, spelt as Node's own HTTP writer spells it (and does on the Hono path); the
    // headers kvq decides are lowercase.
    if (p.body !== null) headers['Content-Length'] = String(Buffer.byteLength(p.body));
    res.writeHead(p.status, headers);
    res.end(p.body ?? undefined);
  };
  /** What Hono's error handler does with an error: problem+json, 5xx logged. */
  const fail = (
    res: ServerResponse,
    err: unknown,
    requestId: string,
    path: string,
    fields?: Fields,
  ) => {
    const problem = problemParts(answerableError(err, deps.logger, requestId, path), requestId);
    send(res, problem, problem.status === 429 ? undefined : fields);
  };

  const read = (
    req: IncomingMessage,
    res: ServerResponse,
    key: string,
    requestId: string,
    fields: Fields,
  ) => {
    const ifNoneMatch = req.headers['if-none-match'];
    deps.records
      .get(key)
      .then((rec) => readResponse(rec, ifNoneMatch, requestId))
      .then(
        (p) => {
          send(res, p, fields);
        },
        (err: unknown) => {
          fail(res, err, requestId, req.url ?? '', fields);
        },
      );
  };

  const maxBody = maxWriteBodyBytes(deps.limits);
  /** The header checks of a plain PUT, all before the body is read; false = leave it to Hono. */
  const plainPut = (req: IncomingMessage): { condition: Condition | undefined } | false => {
    const type = req.headers['content-type'];
    const length = req.headers['content-length'];
    if (
      type === undefined ||
      !JSON_TYPE.test(type) ||
      length === undefined ||
      !/^\d+$/.test(length) ||
      Number(length) === 0 ||
      Number(length) > maxBody ||
      req.headers['transfer-encoding'] !== undefined
    ) {
      return false;
    }
    const idem = header(req, 'idempotency-key');
    const ifMatch = req.headers['if-match'];
    const ifNoneMatch = req.headers['if-none-match'];
    try {
      parseIdempotencyKey(idem);
      return { condition: parseWriteCondition(ifMatch, ifNoneMatch) };
    } catch {
      return false;
    }
  };

  const write = (
    req: IncomingMessage,
    res: ServerResponse,
    key: string,
    requestId: string,
    condition: Condition | undefined,
    fields: Fields,
  ) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('error', () => {
      res.destroy();
    });
    req.on('end', () => {
      const writeRequest = {
        idempotencyKey: header(req, 'idempotency-key'),
        prefer: header(req, 'prefer'),
        requestId,
      };
      Promise.resolve()
        .then(() => {
          const first = chunks[0];
          const bytes = chunks.length === 1 && first ? first : Buffer.concat(chunks);
          const { body: parsed, valueJson } = readJsonBody(decodeBody(bytes));
          const body = putBody.safeParse(parsed);
          if (!body.success) throw validationError(body.error.issues);
          const put = { valueJson, ttlSeconds: body.data.ttlSeconds };
          return submitPut(deps, writeRequest, key, put, condition);
        })
        .then(
          (p) => {
            send(res, p, fields);
          },
          (err: unknown) => {
            fail(res, err, requestId, req.url ?? '', fields);
          },
        );
    });
  };

  return (req, res) => {
    const url = req.url;
    const method = req.method;
    if (
      (method !== 'GET' && method !== 'PUT') ||
      url === undefined ||
      !PLAIN_KEY_URL.test(url) ||
      !PLAIN_HOST.test(req.headers.host ?? '')
    ) {
      return false;
    }
    let key: string;
    let refused: AppError | undefined;
    try {
      checkRequestTarget(url);
      key = keyFromUrl(url, KEY_PREFIX, deps.limits.maxKeyBytes);
      // An address known to be over its quota is refused before its credential is tried.
      refused = limits && refusedBeforeAuth(limits, req);
    } catch {
      return false;
    }
    // Authentication and authorization from memory only (the route's scope from access.ts, then
    // the key's prefix rules): a key verified within KEY_CACHE_MS, a keys-file key or a legacy
    // token. A cache miss (a Redis round trip) and every refusal go to Hono, which runs the same
    // functions, awaits the lookup, renders the refusal and reports it, once.
    let principal: Principal | null = null;
    if (!refused) {
      const gate = gateFromMemory(
        deps.auth,
        method,
        url,
        headerLines(req.rawHeaders, 'authorization'),
        key,
      );
      if (gate === false) return false;
      principal = gate;
    }
    const put = method === 'PUT' && !refused ? plainPut(req) : undefined;
    if (put === false) return false;
    const requestId = requestIdFrom(header(req, 'x-request-id'));
    // Tracing on: the request's span, ended when the answer is sent; the listeners below and the
    // body's run in its context.
    const span = traceRequest?.(method, url, header(req, 'traceparent'), header(req, 'tracestate'));
    span?.follow(req, res, KEY_ROUTE, requestId);
    if (record) {
      const started = performance.now();
      res.once('close', () => {
        record(method, KEY_ROUTE, url, res.statusCode, started, requestId);
      });
    }
    const serve = (fields: Fields) => {
      if (put) write(req, res, key, requestId, put.condition, fields);
      else read(req, res, key, requestId, fields);
    };
    const dispatch = () => {
      // Against the key's principal; without one (authentication off), the client address.
      const counted =
        limits && !refused ? limitNodeRequest(limits, req, principal ?? undefined) : undefined;
      if (refused) fail(res, refused, requestId, url);
      else if (!counted) serve(undefined);
      else {
        counted.then(
          (d) => {
            serve(d.headers);
          },
          (err: unknown) => {
            fail(res, err, requestId, url);
          },
        );
      }
    };
    if (span) span.run(dispatch);
    else dispatch();
    return true;
  };
}
