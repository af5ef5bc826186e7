import { hash, timingSafeEqual } from 'node:crypto';

import { apiKeyFormatProblem, AppError, type Principal, rulesOf } from '../../core/index.ts';
import type { ApiKeyStore, StoredApiKey } from '../../store/index.ts';

/** Why a request was refused: the label of kvq_auth_denials_total (see onDenied). */
export type DenialReason =
  | 'missing'
  | 'malformed'
  | 'bad_checksum'
  | 'unknown'
  | 'expired'
  | 'revoked'
  | 'insufficient_scope'
  | 'prefix_forbidden';

/** An AppError that says why, so that the one place that counts denials can label them. */
export class AuthRefusal extends AppError {
  readonly reason: DenialReason;
  constructor(reason: DenialReason, error: AppError) {
    super(error.code, error.detail, { headers: { ...error.headers } });
    this.reason = reason;
  }
}

const REALM = 'Bearer realm="kvq"';
const invalidToken = (reason: DenialReason, detail: string) =>
  new AuthRefusal(
    reason,
    new AppError('UNAUTHORIZED', detail, {
      headers: { 'www-authenticate': `${REALM}, error="invalid_token"` },
    }),
  );

/** RFC 6750 b64token; the same alphabet config.ts requires of API_TOKENS. */
const TOKEN = /^[A-Za-z0-9._~+/-]+=*$/;
const SCHEME = 'bearer ';

/**
 * The bearer token of a request, given every Authorization field line. Throws 400 INVALID_HEADER
 * for more than one credential (several lines, or one line with a comma, which is how a proxy or
 * Hono's adapter joins repeats), 401 for a missing one (RFC 6750: a challenge without an error)
 * or one that is not `Bearer <b64token>` (`invalid_request`).
 */
export function bearerToken(authorization: readonly string[]): string {
  const first = authorization[0];
  if (authorization.length > 1 || first?.includes(',')) {
    throw new AuthRefusal(
      'malformed',
      new AppError('INVALID_HEADER', 'send one Authorization header with one credential', {
        headers: { 'www-authenticate': 'Bearer error="invalid_request"' },
      }),
    );
  }
  const line = first?.trim();
  if (!line) {
    throw new AuthRefusal(
      'missing',
      new AppError('UNAUTHORIZED', 'send Authorization: Bearer <token>', {
        headers: { 'www-authenticate': REALM },
      }),
    );
  }
  const token =
    line.length > SCHEME.length && line.slice(0, SCHEME.length).toLowerCase() === SCHEME
      ? line.slice(SCHEME.length).trimStart()
      : '';
  if (!TOKEN.test(token)) {
    throw new AuthRefusal(
      'malformed',
      new AppError('UNAUTHORIZED', 'the Authorization header is not "Bearer <token>"', {
        headers: { 'www-authenticate': `${REALM}, error="invalid_request"` },
      }),
    );
  }
  return token;
}

export interface AuthenticatorDeps {
  /** API keys in the data Redis; unset = none there. */
  store?: ApiKeyStore | undefined;
  /** The keys of API_KEYS_FILE as last read (by digest). */
  fileKeys?: (() => ReadonlyMap<string, StoredApiKey>) | undefined;
  /** Deprecated API_TOKENS: each is an admin key named `token-<n>`. */
  legacyTokens?: readonly string[] | undefined;
  /** How long a key read from Redis is trusted (and an unknown one remembered). */
  cacheMs: number;
  now?: () => number;
}

export interface Authenticator {
  /**
   * The principal of a request from memory alone: legacy tokens, the keys file, and keys verified
   * within the cache bound. Undefined when the data Redis must be asked; throws AuthRefusal.
   */
  fromMemory(authorization: readonly string[]): Principal | undefined;
  /** The principal of a request, asking the data Redis on a cache miss; throws AuthRefusal. */
  authenticate(authorization: readonly string[]): Promise<Principal>;
}

/** Most keys remembered (known or unknown); the oldest are forgotten first. */
const CACHE_ENTRIES = 10_000;
/** Most distinct keys looked up in the data Redis at once; past it, 503 (retry). */
const MAX_LOOKUPS = 64;

interface Cached {
  key: StoredApiKey | null;
  principal: Principal | null;
  until: number;
}

export function principalOf(k: StoredApiKey): Principal {
  const p: Principal = {
    keyId: k.id,
    name: k.name,
    scope: k.scope,
    prefixRules: k.prefixRules,
    rateLimitPerSecond: k.rateLimitPerSecond,
  };
  const rules = rulesOf(p);
  return { ...p, prefixes: rules?.filter((r) => r.scope !== 'none').map((r) => r.prefix) };
}

/**
 * API-key authentication. A presented token is, in order: a deprecated API_TOKENS entry
 * (compared as SHA-256 digests in constant time against all of them), refused without any lookup
 * if it is no well-formed kvq key (`malformed`, or `bad_checksum` for a typo), then looked up by
 * its digest in the keys file, the cache, and the data Redis.
 *
 * A key read from Redis is trusted for `cacheMs`, so a revocation takes effect within that bound;
 * its expiry is checked on every request. An unknown digest is remembered as long, lookups of one
 * digest are shared, and at most MAX_LOOKUPS distinct ones run at once, so a flood of made-up
 * keys costs the data Redis at most one read per key per `cacheMs`, with bounded concurrency.
 */
export function createAuthenticator(deps: AuthenticatorDeps): Authenticator {
  const now = deps.now ?? Date.now;
  // crypto.hash: one call, no Hash object per request (the raw lane's hot path).
  const sha = (s: string) => hash('sha256', s, 'buffer');
  const legacy = (deps.legacyTokens ?? []).map((t, i) => ({
    digest: sha(t),
    principal: { keyId: `token-${String(i + 1)}`, name: 'API_TOKENS', scope: 'admin' } as const,
  }));
  const cache = new Map<string, Cached>();
  const inFlight = new Map<string, Promise<Cached>>();

  const remember = (digest: string, key: StoredApiKey | null): Cached => {
    const entry = { key, principal: key ? principalOf(key) : null, until: now() + deps.cacheMs };
    cache.delete(digest);
    cache.set(digest, entry);
    if (cache.size > CACHE_ENTRIES) {
      const oldest = cache.keys().next().value;
      if (oldest !== undefined) cache.delete(oldest);
    }
    return entry;
  };

  const admit = (key: StoredApiKey | null, principal: Principal | null): Principal => {
    if (!key || !principal) throw invalidToken('unknown', 'the API key is not known');
    if (key.revokedAt !== undefined) {
      throw invalidToken('revoked', `API key ${key.id} was revoked`);
    }
    if (key.expiresAt !== undefined && key.expiresAt <= now()) {
      throw invalidToken('expired', `API key ${key.id} expired`);
    }
    return principal;
  };

  /**
   * What screening a token answered (a legacy token's principal, or a well-formed key's digest),
   * remembered in process memory only, for as long as a verified key is trusted (at least 1 s):
   * the SHA-256 and the checksum are then not repeated on every request of a client that keeps
   * sending the same key. It holds no verdict: the digest is still looked up (revocation, expiry)
   * on every request. Bounded like the key cache.
   */
  const screened = new Map<string, { result: Principal | string; until: number }>();
  const memoMs = Math.max(1000, deps.cacheMs);

  /** The token's digest once it passed every check that needs no key store. */
  const screen = (authorization: readonly string[]): Principal | string => {
    const token = bearerToken(authorization);
    const memo = screened.get(token);
    const t = now();
    if (memo && memo.until > t) return memo.result;
    const result = screenToken(token);
    screened.delete(token);
    screened.set(token, { result, until: t + memoMs });
    if (screened.size > CACHE_ENTRIES) {
      const oldest = screened.keys().next().value;
      if (oldest !== undefined) screened.delete(oldest);
    }
    return result;
  };

  const screenToken = (token: string): Principal | string => {
    const d = sha(token);
    let match: Principal | undefined;
    for (const l of legacy) if (timingSafeEqual(l.digest, d) && !match) match = l.principal;
    if (match) return match;
    const problem = apiKeyFormatProblem(token);
    if (problem === 'malformed') {
      throw invalidToken('malformed', 'not a kvq API key (kvq_ and 36 letters or digits)');
    }
    if (problem === 'bad_checksum') {
      throw invalidToken('bad_checksum', "the API key's checksum is wrong: a typo or a cut copy");
    }
    // apiKeyDigest(token), from the digest already taken.
    return d.toString('hex');
  };

  const fromMemory = (digest: string): Principal | undefined => {
    const file = deps.fileKeys?.().get(digest);
    if (file) return admit(file, principalOf(file));
    const hit = cache.get(digest);
    if (hit && hit.until > now()) return admit(hit.key, hit.principal);
    return undefined;
  };

  const lookup = (digest: string): Promise<Cached> => {
    const running = inFlight.get(digest);
    if (running) return running;
    const store = deps.store;
    if (!store) return Promise.resolve(remember(digest, null));
    if (inFlight.size >= MAX_LOOKUPS) {
      return Promise.reject(
        new AppError('DATA_UNAVAILABLE', 'too many API keys being verified at once; retry', {
          headers: { 'retry-after': '1' },
        }),
      );
    }
    const p = store
      .byDigest(digest)
      .then((k) => remember(digest, k))
      .finally(() => inFlight.delete(digest));
    inFlight.set(digest, p);
    return p;
  };

  return {
    fromMemory(authorization) {
      const s = screen(authorization);
      return typeof s === 'string' ? fromMemory(s) : s;
    },
    async authenticate(authorization) {
      const s = screen(authorization);
      if (typeof s !== 'string') return s;
      const known = fromMemory(s);
      if (known) return known;
      const entry = await lookup(s);
      return admit(entry.key, entry.principal);
    },
  };
}
