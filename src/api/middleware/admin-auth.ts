import { createHash } from 'node:crypto';

import type { Context, MiddlewareHandler } from 'hono';

import { AppError, type Principal, type Scope, scopeAllows } from '../../core/index.ts';
import { createAuthorizer, headerLines, incomingOf } from './request-context.ts';

/**
 * Who a request acts as, and whether that may use an admin route. `Authenticate` is the one
 * seam between credentials and principals: createApp takes one in its deps and otherwise builds
 * it from API_TOKENS (tokenAuthenticator). The admin routes (the audit log, the dead-letter
 * actions, the queue dashboard) resolve the principal through it and check its scope here.
 */

/**
 * Given every Authorization field line of a request, the principal it names. Rejects with
 * 401 UNAUTHORIZED for missing or unknown credentials and 400 INVALID_HEADER for more than one.
 */
export type Authenticate = (authorization: readonly string[]) => Promise<Principal>;

/** The principal of an API_TOKENS entry: every token is an admin credential. */
function tokenPrincipal(token: string): Principal {
  const digest = createHash('sha256').update(token).digest('hex');
  return { keyId: `token-${digest.slice(0, 12)}`, name: 'API_TOKENS entry', scope: 'admin' };
}

/** Authenticate over API_TOKENS (createAuthorizer's check); undefined when none are set. */
export function tokenAuthenticator(tokens: readonly string[]): Authenticate | undefined {
  const authorize = createAuthorizer(tokens);
  if (!authorize) return undefined;
  return async (authorization) => {
    authorize(authorization);
    // Checked above: exactly one "Bearer <token>" line.
    const line = (authorization[0] ?? '').trim();
    return Promise.resolve(tokenPrincipal(line.slice('bearer '.length).trimStart()));
  };
}

/** Every Authorization line of a Hono request (node:http's raw lines when there are any). */
export function authorizationLines(c: Context): string[] {
  const incoming = incomingOf(c);
  if (incoming) return headerLines(incoming.rawHeaders, 'authorization');
  // Without node:http (app.request in tests), repeats arrive joined with ", ".
  const header = c.req.header('Authorization');
  return header === undefined ? [] : [header];
}

/** The challenge that makes a browser ask for a user name and password. */
export const BASIC_CHALLENGE = 'Basic realm="kvq admin", charset="UTF-8"';

/**
 * A browser cannot send a bearer token when it navigates, but it sends HTTP Basic credentials:
 * `Basic base64(user:secret)` is read as `Bearer secret` (the user name is ignored). Other lines
 * are passed on as they are; a Basic line that does not decode to `user:secret` is a 401.
 */
export function basicAsBearer(authorization: readonly string[]): readonly string[] {
  const line = authorization.length === 1 ? (authorization[0] ?? '').trim() : '';
  if (!/^basic(?: |$)/i.test(line)) return authorization;
  const encoded = line.slice('basic'.length).trim();
  const decoded = /^[A-Za-z0-9+/]+={0,2}$/.test(encoded)
    ? Buffer.from(encoded, 'base64').toString('utf8')
    : '';
  const colon = decoded.indexOf(':');
  if (colon === -1 || colon === decoded.length - 1) {
    throw new AppError(
      'UNAUTHORIZED',
      'send Basic credentials: any user name, the key as password',
      {
        headers: { 'www-authenticate': BASIC_CHALLENGE },
      },
    );
  }
  return [`Bearer ${decoded.slice(colon + 1)}`];
}

/**
 * Sets `principal` from the request's credentials unless authentication already did; leaves it
 * unset when authentication is off. `basic`: also accept HTTP Basic, and challenge for it.
 */
export function resolvePrincipal(
  authenticate: Authenticate | undefined,
  opts: { basic?: boolean } = {},
): MiddlewareHandler {
  return async (c, next) => {
    if (authenticate && !principalOf(c)) {
      let lines: readonly string[] = authorizationLines(c);
      try {
        if (opts.basic) lines = basicAsBearer(lines);
        c.set('principal', await authenticate(lines));
      } catch (err) {
        // The browser prompts only when the challenge names Basic.
        if (opts.basic && err instanceof AppError && err.code === 'UNAUTHORIZED') {
          throw new AppError('UNAUTHORIZED', err.detail, {
            cause: err,
            headers: { 'www-authenticate': BASIC_CHALLENGE },
          });
        }
        throw err;
      }
    }
    await next();
  };
}

/** 403 INSUFFICIENT_SCOPE unless the principal's scope includes `need` (none: auth is off). */
export function checkScope(principal: Principal | undefined, need: Scope): void {
  if (!principal || scopeAllows(principal.scope, need)) return;
  throw new AppError(
    'INSUFFICIENT_SCOPE',
    `this route needs the ${need} scope; key ${principal.keyId} has ${principal.scope}`,
    {
      headers: {
        'www-authenticate': `Bearer realm="kvq", error="insufficient_scope", scope="${need}"`,
      },
    },
  );
}

/** Hono adapter for checkScope. */
export function requireScope(need: Scope): MiddlewareHandler {
  return async (c, next) => {
    checkScope(principalOf(c), need);
    await next();
  };
}

/** The request's principal; undefined when authentication is off (or has not run). */
export const principalOf = (c: Context): Principal | undefined => c.get('principal');

/** Who an audit entry names: the principal's key id, or "anonymous" when auth is off. */
export const actorOf = (c: Context): string => principalOf(c)?.keyId ?? 'anonymous';
