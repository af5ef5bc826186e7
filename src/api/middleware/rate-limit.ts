import type { IncomingMessage } from 'node:http';

import type { Context, MiddlewareHandler } from 'hono';

import { AppError, type Principal } from '../../core/index.ts';
import { clientAddress, type TrustedProxies } from '../client-address.ts';
import type { RateLimitDecision, RateLimiter, RateLimitIdentity } from '../rate-limiter.ts';

/**
 * The rate limits of a request, whichever transport serves it. Hono uses them through the two
 * middlewares below, the raw fast lane (raw-paths.ts) calls `limitNodeRequest` and
 * `refusedBeforeAuth` on the node:http request: the same identity, the same counters.
 *
 * How they meet authentication: `limitFailedAuth` runs before it. It refuses an address that this
 * process already knows to be over its quota before the credential is even tried (so guessing
 * keys is throttled), and counts every 401 against the client address, answering 429 instead
 * once the address is over. `rateLimit` runs after it: a request with a principal counts against
 * its key, one without (authentication off) against its client address. A request is counted
 * once: a 401 never reaches `rateLimit`.
 */
export interface RateLimits {
  limiter: RateLimiter;
  /** TRUSTED_PROXIES and the header they write; undefined = the peer address is the client. */
  trustedProxies: TrustedProxies | undefined;
}

/**
 * What a request is limited as: its principal's key when it has one, else its client address;
 * undefined when addresses are not limited (the address is then never worked out).
 */
export function identityOf(
  limiter: RateLimiter,
  principal: Principal | undefined,
  address: () => string,
): RateLimitIdentity | undefined {
  if (principal)
    return { kind: 'key', id: principal.keyId, perSecond: principal.rateLimitPerSecond };
  return limiter.limitsAddresses ? { kind: 'address', address: address() } : undefined;
}

/** The client address of a node:http request (see client-address.ts). */
export function nodeClientAddress(req: IncomingMessage, limits: RateLimits): string {
  const trusted = limits.trustedProxies;
  const forwarded = trusted ? req.headers[trusted.header] : undefined;
  return clientAddress(
    req.socket.remoteAddress,
    Array.isArray(forwarded) ? forwarded.join(', ') : forwarded,
    trusted,
  );
}

/** The client address of a Hono request: its node:http request's, else the headers alone. */
function honoClientAddress(c: Context, limits: RateLimits): string {
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  if (incoming) return nodeClientAddress(incoming, limits);
  const trusted = limits.trustedProxies;
  return clientAddress(undefined, trusted && c.req.header(trusted.header), trusted);
}

/**
 * The raw lane's check: the request's principal, else its client address. Undefined when
 * nothing is to be counted (so that the lane goes on without waiting).
 */
export function limitNodeRequest(
  limits: RateLimits,
  req: IncomingMessage,
  principal: Principal | undefined,
): Promise<RateLimitDecision> | undefined {
  const identity = identityOf(limits.limiter, principal, () => nodeClientAddress(req, limits));
  return identity && limits.limiter.check(identity);
}

/** The 429 for a request whose address is known to be over its quota, before authentication. */
export function refusedBeforeAuth(limits: RateLimits, req: IncomingMessage): AppError | undefined {
  return limits.limiter.refusal(() => nodeClientAddress(req, limits));
}

const setAll = (headers: Headers, fields: Readonly<Record<string, string>>) => {
  for (const name in fields) headers.set(name, fields[name] ?? '');
};

/**
 * Before authentication: an address over its quota is refused (429) without trying its
 * credential, and a 401 counts against the address (429 in its place once over).
 */
export function limitFailedAuth(limits: RateLimits): MiddlewareHandler {
  return async (c, next) => {
    if (!limits.limiter.limitsAddresses) {
      await next();
      return;
    }
    let address: string | undefined;
    const addressOf = () => (address ??= honoClientAddress(c, limits));
    const refused = limits.limiter.refusal(addressOf);
    if (refused) throw refused;
    await next();
    if (c.res.status !== 401) return;
    try {
      const { headers } = await limits.limiter.check({ kind: 'address', address: addressOf() });
      setAll(c.res.headers, headers);
    } catch (err) {
      // The 429 replaces the 401 whole (no WWW-Authenticate challenge carried over).
      if (err instanceof AppError) c.res = undefined;
      throw err;
    }
  };
}

/**
 * After authentication: counts the request against `identityOf(c)`, refuses it with 429 when that
 * is over its quota, and sends the RateLimit fields on the answer.
 */
export function rateLimit(
  limiter: RateLimiter,
  identity: (c: Context) => RateLimitIdentity | undefined,
): MiddlewareHandler {
  return async (c, next) => {
    const who = identity(c);
    if (!who) {
      await next();
      return;
    }
    const { headers } = await limiter.check(who);
    for (const name in headers) c.header(name, headers[name]);
    await next();
    // An error answer is built by the error handler, without the fields set above.
    if (headers.ratelimit !== undefined && c.res.status >= 400 && !c.res.headers.has('ratelimit')) {
      setAll(c.res.headers, headers);
    }
  };
}

/** `rateLimit`'s identity for kvq's routes: the principal, else the client address. */
export function requestIdentity(limits: RateLimits): (c: Context) => RateLimitIdentity | undefined {
  return (c) => identityOf(limits.limiter, c.get('principal'), () => honoClientAddress(c, limits));
}
