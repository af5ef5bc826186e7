import type { Cluster, Redis } from 'ioredis';

import {
  apiKeyDigest,
  type ApiKeyKeys,
  checkPrefixRule,
  generateApiKey,
  generateKeyId,
  keyFingerprint,
  parsePrefixRule as parseRule,
  type PrefixRule,
  type Scope,
  SCOPES,
} from '../core/index.ts';
import { guard } from './guard.ts';

/** An API key as stored: never the secret, only its SHA-256 digest. */
export interface StoredApiKey {
  id: string;
  name: string;
  /** Hex SHA-256 of the secret. */
  digest: string;
  scope: Scope;
  /** Undefined = every key; else longest prefix wins, deny by default. */
  prefixRules?: PrefixRule[] | undefined;
  createdAt: number;
  expiresAt?: number | undefined;
  revokedAt?: number | undefined;
  rateLimitPerSecond?: number | undefined;
}

export interface ApiKeyStore {
  /** Stores a new key (its id and digest fresh); rejects 503 DATA_UNAVAILABLE when Redis is out. */
  create(key: StoredApiKey): Promise<void>;
  byDigest(digest: string): Promise<StoredApiKey | null>;
  byId(id: string): Promise<StoredApiKey | null>;
  /** Every key, oldest first (revoked ones too, marked). */
  list(): Promise<StoredApiKey[]>;
  /** Marks the key revoked at `at` unless it already is; null for an unknown id. */
  revoke(id: string, at: number): Promise<StoredApiKey | null>;
}

/**
 * What an API key must satisfy wherever it comes from (Redis, the keys file, the admin API, the
 * CLI); throws with a message. An admin key may not be prefix-restricted: admin routes act on no
 * key (dead letters, keys), so a prefix could not bound what it does.
 */
export function checkApiKey(k: StoredApiKey): StoredApiKey {
  if (!SCOPES.includes(k.scope)) throw new Error(`scope must be one of ${SCOPES.join(', ')}`);
  if (k.name.length === 0 || k.name.length > 200) throw new Error('name: 1 to 200 characters');
  if (k.prefixRules) {
    if (k.scope === 'admin') throw new Error('an admin key cannot be restricted to prefixes');
    if (k.prefixRules.length === 0 || k.prefixRules.length > 100) {
      throw new Error('prefixes: 1 to 100 rules');
    }
    for (const r of k.prefixRules) checkPrefixRule(r, k.scope);
  }
  if (k.rateLimitPerSecond !== undefined && !(k.rateLimitPerSecond > 0)) {
    throw new Error('rate limit must be above 0');
  }
  return k;
}

const FIELDS = ['id', 'name', 'scope', 'rules', 'c', 'e', 'r', 'rl'] as const;

function encode(k: StoredApiKey): Record<string, string> {
  const h: Record<string, string> = {
    id: k.id,
    name: k.name,
    scope: k.scope,
    c: String(k.createdAt),
  };
  if (k.prefixRules) h.rules = JSON.stringify(k.prefixRules);
  if (k.expiresAt !== undefined) h.e = String(k.expiresAt);
  if (k.revokedAt !== undefined) h.r = String(k.revokedAt);
  if (k.rateLimitPerSecond !== undefined) h.rl = String(k.rateLimitPerSecond);
  return h;
}

function decode(digest: string, row: (string | null)[]): StoredApiKey | null {
  const [id, name, scope, rules, c, e, r, rl] = row;
  if (!id || name == null || !scope || !c) return null;
  const k: StoredApiKey = { id, name, digest, scope: scope as Scope, createdAt: Number(c) };
  if (rules) k.prefixRules = JSON.parse(rules) as PrefixRule[];
  if (e) k.expiresAt = Number(e);
  if (r) k.revokedAt = Number(r);
  if (rl) k.rateLimitPerSecond = Number(rl);
  return k;
}

export function createApiKeyStore(deps: { redis: Redis | Cluster; keys: ApiKeyKeys }): ApiKeyStore {
  const { redis, keys } = deps;
  const byDigest = async (digest: string) =>
    decode(digest, await guard(redis.hmget(keys.byDigest(digest), ...FIELDS), 'DATA_UNAVAILABLE'));
  const digestOf = (id: string) => guard(redis.get(keys.id(id)), 'DATA_UNAVAILABLE');

  return {
    async create(k) {
      checkApiKey(k);
      // One slot (the {api-keys} tag), so one MULTI even on a cluster.
      await guard(
        redis
          .multi()
          .hset(keys.byDigest(k.digest), encode(k))
          .set(keys.id(k.id), k.digest)
          .zadd(keys.ids, String(k.createdAt), k.id)
          .exec(),
        'DATA_UNAVAILABLE',
      );
    },
    byDigest,
    async byId(id) {
      const digest = await digestOf(id);
      return digest ? byDigest(digest) : null;
    },
    async list() {
      const ids = await guard(redis.zrange(keys.ids, '0', '-1'), 'DATA_UNAVAILABLE');
      const out: StoredApiKey[] = [];
      // Few keys (operators make them by hand): a read per key is fine.
      for (const id of ids) {
        const digest = await digestOf(id);
        const k = digest ? await byDigest(digest) : null;
        if (k) out.push(k);
      }
      return out;
    },
    async revoke(id, at) {
      const digest = await digestOf(id);
      if (!digest) return null;
      // HSETNX: revoking twice keeps the first time.
      await guard(redis.hsetnx(keys.byDigest(digest), 'r', String(at)), 'DATA_UNAVAILABLE');
      return byDigest(digest);
    },
  };
}

/**
 * The keys of an API_KEYS_FILE: a JSON array (or `{"keys": [...]}`) of
 * `{id, name, digest, scope, prefixes?, expiresAt?, rateLimitPerSecond?}`, `digest` the hex
 * SHA-256 of the key, `prefixes` rules as the CLI writes them (`P` or `P=read`), `expiresAt` ISO
 * 8601. Throws one message naming every bad entry by position (never echoing a digest).
 */
export function parseKeysFile(text: string): StoredApiKey[] {
  const doc = JSON.parse(text) as unknown;
  const list = Array.isArray(doc) ? doc : (doc as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(list)) throw new Error('expected a JSON array of keys, or {"keys": [...]}');
  const problems: string[] = [];
  const out: StoredApiKey[] = [];
  const seen = new Set<string>();
  list.forEach((raw: unknown, i) => {
    try {
      const e = raw as Record<string, unknown>;
      const str = (name: string) => {
        const v = e[name];
        if (typeof v !== 'string') throw new Error(`${name} must be a string`);
        return v;
      };
      const digest = str('digest').toLowerCase();
      if (!/^[0-9a-f]{64}$/.test(digest)) throw new Error('digest must be 64 hex digits');
      const scope = str('scope') as Scope;
      if (!SCOPES.includes(scope)) throw new Error(`scope must be one of ${SCOPES.join(', ')}`);
      const id = str('id');
      if (!/^[A-Za-z0-9_-]{1,64}$/.test(id)) throw new Error('id: 1 to 64 of A-Z a-z 0-9 _ -');
      if (seen.has(id)) throw new Error(`id ${id} appears twice`);
      seen.add(id);
      const k: StoredApiKey = { id, name: str('name'), digest, scope, createdAt: 0 };
      if (e.prefixes !== undefined) {
        if (!Array.isArray(e.prefixes) || !e.prefixes.every((p) => typeof p === 'string')) {
          throw new Error('prefixes must be an array of strings');
        }
        k.prefixRules = e.prefixes.map((p) => parseRule(p, scope));
      }
      if (e.expiresAt !== undefined) {
        const t = Date.parse(str('expiresAt'));
        if (Number.isNaN(t)) throw new Error('expiresAt must be an ISO 8601 time');
        k.expiresAt = t;
      }
      if (e.rateLimitPerSecond !== undefined) {
        if (typeof e.rateLimitPerSecond !== 'number') {
          throw new Error('rateLimitPerSecond must be a number');
        }
        k.rateLimitPerSecond = e.rateLimitPerSecond;
      }
      out.push(checkApiKey(k));
    } catch (err) {
      problems.push(`entry ${String(i + 1)}: ${err instanceof Error ? err.message : String(err)}`);
    }
  });
  if (problems.length > 0) throw new Error(problems.join('; '));
  return out;
}

/** A new key from what an operator asked for (admin API and CLI); the secret with it. */
export function newApiKey(input: {
  name: string;
  scope: StoredApiKey['scope'];
  prefixRules?: StoredApiKey['prefixRules'];
  expiresInSeconds?: number | undefined;
  rateLimitPerSecond?: number | undefined;
  now: number;
}): { key: StoredApiKey; secret: string } {
  // A name is printed (kvq keys list, logs): no control characters, so no terminal escapes.
  if (/\p{Cc}/u.test(input.name)) throw new Error('name: no control characters');
  const secret = generateApiKey();
  const key: StoredApiKey = {
    id: generateKeyId(),
    name: input.name,
    digest: apiKeyDigest(secret),
    scope: input.scope,
    prefixRules: input.prefixRules,
    createdAt: input.now,
    expiresAt:
      input.expiresInSeconds === undefined ? undefined : input.now + input.expiresInSeconds * 1000,
    rateLimitPerSecond: input.rateLimitPerSecond,
  };
  return { key: checkApiKey(key), secret };
}

/** A stored key as the admin API and the CLI show it: never the secret, a short fingerprint. */
export function publicApiKey(k: StoredApiKey) {
  const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());
  return {
    id: k.id,
    name: k.name,
    scope: k.scope,
    prefixes: k.prefixRules?.map((r) => ({ prefix: r.prefix, scope: r.scope })) ?? null,
    createdAt: new Date(k.createdAt).toISOString(),
    expiresAt: iso(k.expiresAt),
    revokedAt: iso(k.revokedAt),
    rateLimitPerSecond: k.rateLimitPerSecond ?? null,
    fingerprint: keyFingerprint(k.digest),
  };
}
