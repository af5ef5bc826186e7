import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

import type { Context, MiddlewareHandler } from 'hono';

import { AppError, type Principal } from '../../core/index.ts';

/**
 * The request context every request gets, whichever transport serves it: a request id, a request
 * target checked for dot segments, and (on /v1) a bearer token. The functions here are the only
 * place these are decided; Hono uses them through the middlewares below, the raw fast lane
 * (raw-paths.ts) calls them directly on the node:http request.
 */

declare module 'hono' {
  interface ContextVariableMap {
    requestId: string;
    /** Set by authentication on the routes that require it; unset when authentication is off. */
    principal: Principal;
  }
}

/** What a client may send as X-Request-Id to have it used (a repeated header never matches). */
const CLIENT_REQUEST_ID = /^[\w\-=]{1,255}$/;

/** The client's X-Request-Id when it is usable, else a fresh UUID. */
export function requestIdFrom(clientId: string | undefined): string {
  return clientId !== undefined && CLIENT_REQUEST_ID.test(clientId) ? clientId : randomUUID();
}

/**
 * A `.` or `..` path segment, literal or percent-encoded in any case: what the WHATWG URL parser
 * (and so Hono's Node adapter) would resolve. A backslash counts as a separator, as it does there.
 */
const DOT_SEGMENT = /[/\\](?:\.|%2e){1,2}(?:[/\\]|$)/i;
const KEY_PATH = '/v1/keys/';

/**
 * Refuses a request target with a dot segment in its path: 400 INVALID_KEY under /v1/keys/, else
 * 400 BAD_REQUEST. Such a target is never resolved into another key or route. `target` is the raw
 * request target (origin- or absolute-form), before any URL normalisation.
 */
export function checkRequestTarget(target: string): void {
  const schemeEnd = target.startsWith('/') ? -1 : target.indexOf('://');
  const start = schemeEnd === -1 ? 0 : target.indexOf('/', schemeEnd + 3);
  if (start === -1) return;
  let end = target.length;
  const q = target.indexOf('?', start);
  if (q !== -1) end = q;
  const h = target.indexOf('#', start);
  if (h !== -1 && h < end) end = h;
  const path = start === 0 && end === target.length ? target : target.slice(start, end);
  if (!DOT_SEGMENT.test(path)) return;
  const detail = 'the path has a "." or ".." segment (also percent-encoded); it is not resolved';
  throw path.startsWith(KEY_PATH)
    ? new AppError('INVALID_KEY', detail)
    : new AppError('BAD_REQUEST', detail);
}

/** Every field line of one header, from node:http's `rawHeaders` (names in any case). */
export function headerLines(rawHeaders: readonly string[], lowerName: string): string[] {
  const lines: string[] = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i];
    const value = rawHeaders[i + 1];
    if (
      name?.length === lowerName.length &&
      name.toLowerCase() === lowerName &&
      value !== undefined
    ) {
      lines.push(value);
    }
  }
  return lines;
}

/** RFC 6750 b64token; the same alphabet config.ts requires of API_TOKENS. */
const TOKEN = /^[A-Za-z0-9._~+/-]+=*$/;
const SCHEME = 'bearer ';
const unauthorized = (challenge: string, detail: string) =>
  new AppError('UNAUTHORIZED', detail, { headers: { 'www-authenticate': challenge } });

/**
 * The one bearer-token check, given every Authorization field line of a request. Throws
 * 400 INVALID_HEADER for more than one credential (several lines, or one line with a comma, which
 * is how a proxy or Hono's adapter joins repeats), 401 UNAUTHORIZED with RFC 6750's challenge for
 * a missing, malformed or unknown token. Tokens are compared as SHA-256 digests in constant time,
 * against every configured token. Undefined when no tokens are configured (no authentication).
 */
export function createAuthorizer(
  tokens: readonly string[],
): ((authorization: readonly string[]) => void) | undefined {
  if (tokens.length === 0) return undefined;
  const digest = (s: string) => createHash('sha256').update(s).digest();
  const known = tokens.map(digest);
  return (authorization) => {
    const first = authorization[0];
    if (authorization.length > 1 || first?.includes(',')) {
      throw new AppError('INVALID_HEADER', 'send one Authorization header with one credential', {
        headers: { 'www-authenticate': 'Bearer error="invalid_request"' },
      });
    }
    const line = first?.trim();
    if (!line) throw unauthorized('Bearer realm="kvq"', 'send Authorization: Bearer <token>');
    const token =
      line.length > SCHEME.length && line.slice(0, SCHEME.length).toLowerCase() === SCHEME
        ? line.slice(SCHEME.length).trimStart()
        : '';
    if (!TOKEN.test(token)) {
      throw unauthorized(
        'Bearer realm="kvq", error="invalid_request"',
        'the Authorization header is not "Bearer <token>"',
      );
    }
    const d = digest(token);
    let ok = false;
    for (const k of known) ok = timingSafeEqual(k, d) || ok;
    if (!ok) {
      throw unauthorized(
        'Bearer realm="kvq", error="invalid_token"',
        'the bearer token is not known',
      );
    }
  };
}

/** The node:http request behind a Hono context, when served by @hono/node-server. */
export const incomingOf = (c: Context): IncomingMessage | undefined =>
  (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;

/** The request target as the client sent it: Hono's `c.req.url` has dot segments resolved. */
export function requestTarget(c: Context): string {
  return incomingOf(c)?.url ?? c.req.url;
}

/** Hono adapter: request id (set and echoed), then the request-target check. */
export function requestContext(): MiddlewareHandler {
  return async (c, next) => {
    const id = requestIdFrom(c.req.header('X-Request-Id'));
    c.set('requestId', id);
    c.header('x-request-id', id);
    checkRequestTarget(requestTarget(c));
    await next();
  };
}

/** Hono adapter for createAuthorizer; undefined when no tokens are configured. */
export function bearerTokens(tokens: readonly string[]): MiddlewareHandler | undefined {
  const authorize = createAuthorizer(tokens);
  if (!authorize) return undefined;
  return async (c, next) => {
    const incoming = incomingOf(c);
    if (incoming) authorize(headerLines(incoming.rawHeaders, 'authorization'));
    else {
      // Without node:http (app.request in tests), repeats arrive joined with ", ".
      const header = c.req.header('Authorization');
      authorize(header === undefined ? [] : [header]);
    }
    await next();
  };
}
