import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

import type { Context, MiddlewareHandler } from 'hono';

import { AppError, type Principal } from '../../core/index.ts';

/**
 * The request context every request gets, whichever transport serves it: a request id, a request
 * target checked for dot segments, and the Authorization lines (checked in auth/). The functions
 * here are the only place these are decided; Hono uses them through the middlewares below, the raw fast lane
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

/** Every Authorization field line of a Hono request (see bearerToken in auth/authenticator.ts). */
export function authorizationLines(c: Context): string[] {
  const incoming = incomingOf(c);
  if (incoming) return headerLines(incoming.rawHeaders, 'authorization');
  // Without node:http (app.request in tests), repeats arrive joined with ", ".
  const header = c.req.header('Authorization');
  return header === undefined ? [] : [header];
}
