import type { Context, MiddlewareHandler } from 'hono';

import {
  anyReadableUnder,
  AppError,
  keyAllows,
  type Principal,
  rulesOf,
  type Scope,
  scopeAllows,
} from '../../core/index.ts';
import type { StoredReceipt } from '../../store/index.ts';
import { accessFor } from '../access.ts';
import type { OpWaiter } from '../op-waiter.ts';
import { type Authenticator, AuthRefusal, type DenialReason } from './authenticator.ts';

/**
 * Authorization: the route's scope (from the one table in access.ts) and the key-prefix rules.
 * Both lanes come here: Hono through `authGate`, the raw fast lane through `fromMemory`.
 */

const challenge = (scope: Scope) =>
  `Bearer realm="kvq", error="insufficient_scope", scope="${scope}"`;

/** 403 INSUFFICIENT_SCOPE unless `p` holds `need`. */
export function requireScope(p: Principal, need: Scope): void {
  if (scopeAllows(p.scope, need)) return;
  throw new AuthRefusal(
    'insufficient_scope',
    new AppError(
      'INSUFFICIENT_SCOPE',
      `this needs the ${need} scope; key ${p.keyId} has ${p.scope}`,
      {
        headers: { 'www-authenticate': challenge(need) },
      },
    ),
  );
}

const forbidden = (detail: string, need: Scope) =>
  new AuthRefusal(
    'prefix_forbidden',
    new AppError('KEY_FORBIDDEN', detail, { headers: { 'www-authenticate': challenge(need) } }),
  );

/**
 * 403 KEY_FORBIDDEN unless `p` may do what needs `need` on `key` (the key exactly as the request
 * pipeline parsed it). No principal (authentication off) may do anything.
 */
export function requireKey(p: Principal | undefined, key: string, need: Scope): void {
  if (!p || keyAllows(p, key, need)) return;
  throw forbidden(`key ${p.keyId} may not ${need === 'read' ? 'read' : 'write'} this key`, need);
}

/** 403 KEY_FORBIDDEN for a listing under a prefix where `p` could read nothing. */
export function requireListing(p: Principal | undefined, prefix: string): void {
  if (!p || anyReadableUnder(p, prefix)) return;
  throw forbidden(`key ${p.keyId} may read no key under this prefix`, 'read');
}

/** Whether `p` may read `key`; every key when there is no principal. */
export const mayRead = (p: Principal | undefined, key: string): boolean =>
  !p || keyAllows(p, key, 'read');

/** The request's principal; undefined when authentication is off (or the route is open). */
export function principalOf(c: Context): Principal | undefined {
  return c.get('principal');
}

/**
 * The Hono middleware: for every /v1 request, the bearer token (async on a cache miss) and the
 * route's scope; sets `principal`. Every refusal of the request, here or in a handler (prefix
 * rules), is reported to `onDenied` once, with its reason.
 */
export function authGate(
  authenticator: Authenticator,
  headerLinesOf: (c: Context) => readonly string[],
  onDenied?: (reason: DenialReason) => void,
): MiddlewareHandler {
  return async (c, next) => {
    const access = accessFor(c.req.method === 'HEAD' ? 'GET' : c.req.method, c.req.path);
    if (!access || access.scope === 'open') {
      await next();
      return;
    }
    try {
      const principal = await authenticator.authenticate(headerLinesOf(c));
      requireScope(principal, access.scope);
      c.set('principal', principal);
    } catch (err) {
      if (err instanceof AuthRefusal) onDenied?.(err.reason);
      throw err;
    }
    await next();
    if (c.error instanceof AuthRefusal) onDenied?.(c.error.reason);
  };
}

/**
 * The raw lane's check, with the route's scope from the same table and, for a route on one key,
 * that key's prefix rules: the principal when the request may go on from memory alone (null when
 * authentication is off), false when Hono must take it (a cache miss, or any refusal, which Hono
 * then renders and counts).
 */
export function gateFromMemory(
  authenticator: Authenticator | undefined,
  method: string,
  path: string,
  authorization: readonly string[],
  key?: string,
): Principal | null | false {
  if (!authenticator) return null;
  const access = accessFor(method, path);
  if (!access || access.scope === 'open') return null;
  try {
    const p = authenticator.fromMemory(authorization);
    if (!p || !scopeAllows(p.scope, access.scope)) return false;
    if (key !== undefined && !keyAllows(p, key, access.scope)) return false;
    return p;
  } catch {
    return false;
  }
}

/**
 * The prefix check of a route on one key (path or body), in a Hono handler: the scope the route
 * table gives this request, on `key` exactly as the handler parsed it.
 */
export function requireKeyAccess(c: Context, key: string): void {
  const p = principalOf(c);
  if (!p) return;
  const access = accessFor(c.req.method === 'HEAD' ? 'GET' : c.req.method, c.req.path);
  requireKey(p, key, access && access.scope !== 'open' ? access.scope : 'admin');
}

/**
 * waiter.wait for an op the caller may see: the receipt of an op on a key `p` may not read is
 * answered as unknown (null), before any wait, so neither its status nor its timing leaks.
 */
export async function waitForReadableOp(
  waiter: OpWaiter,
  p: Principal | undefined,
  opId: string,
  ms: number,
): Promise<StoredReceipt | null> {
  if (p && rulesOf(p)) {
    const now = await waiter.wait(opId, 0);
    if (!now || !mayRead(p, now.key)) return null;
  }
  return waiter.wait(opId, ms);
}
