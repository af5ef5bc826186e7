import type { Context, MiddlewareHandler } from 'hono';

import { AppError, type Principal, type Scope } from '../../core/index.ts';
import { AuthRefusal, type DenialReason } from '../auth/authenticator.ts';
import { requireScope as checkPrincipalScope } from '../auth/gate.ts';
import { authorizationLines } from './request-context.ts';

/**
 * The queue dashboard's authentication: the same authenticator as every /v1 route (auth/), plus
 * HTTP Basic so that a browser can log in, and the admin scope. /v1 routes are gated by
 * auth/gate.ts through the route table in access.ts; the dashboard lives outside /v1 because its
 * UI and assets are fetched by the browser.
 */

/**
 * Given every Authorization field line of a request, the principal it names. Rejects with
 * 401 UNAUTHORIZED for missing or unknown credentials and 400 INVALID_HEADER for more than one.
 */
export type Authenticate = (authorization: readonly string[]) => Promise<Principal>;

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
    throw new AuthRefusal(
      'malformed',
      new AppError('UNAUTHORIZED', 'send Basic credentials: any user name, the key as password', {
        headers: { 'www-authenticate': BASIC_CHALLENGE },
      }),
    );
  }
  return [`Bearer ${decoded.slice(colon + 1)}`];
}

/**
 * Sets `principal` from the request's credentials (Bearer, or Basic with the key as password)
 * unless authentication already did; leaves it unset when authentication is off. A 401 carries
 * the Basic challenge, so that a browser prompts. Each refusal is reported to `onDenied` once.
 */
export function resolvePrincipal(
  authenticate: Authenticate | undefined,
  onDenied?: (reason: DenialReason) => void,
): MiddlewareHandler {
  return async (c, next) => {
    if (authenticate && !principalOf(c)) {
      try {
        c.set('principal', await authenticate(basicAsBearer(authorizationLines(c))));
      } catch (err) {
        if (err instanceof AuthRefusal) onDenied?.(err.reason);
        if (err instanceof AppError && err.code === 'UNAUTHORIZED') {
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
export function requireScope(
  need: Scope,
  onDenied?: (reason: DenialReason) => void,
): MiddlewareHandler {
  return async (c, next) => {
    const p = principalOf(c);
    if (p) {
      try {
        checkPrincipalScope(p, need);
      } catch (err) {
        if (err instanceof AuthRefusal) onDenied?.(err.reason);
        throw err;
      }
    }
    await next();
  };
}

/** The request's principal; undefined when authentication is off (or has not run). */
export const principalOf = (c: Context): Principal | undefined => c.get('principal');

/** Who an audit entry names: the principal's key id, or "anonymous" when auth is off. */
export const actorOf = (c: Context): string => principalOf(c)?.keyId ?? 'anonymous';
