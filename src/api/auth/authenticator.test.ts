import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';

import { apiKeyDigest, generateApiKey } from '../../core/index.ts';
import type { ApiKeyStore, StoredApiKey } from '../../store/index.ts';
import { AuthRefusal, createAuthenticator, type DenialReason } from './authenticator.ts';
import { authGate, requireKeyAccess } from './gate.ts';

/** A key store in memory that counts its lookups (the data Redis in integration tests). */
function memoryStore(keys: StoredApiKey[]) {
  const lookups: string[] = [];
  const store: ApiKeyStore = {
    create: () => Promise.resolve(),
    byDigest: async (d) => {
      lookups.push(d);
      await new Promise((r) => setTimeout(r, 5));
      return keys.find((k) => k.digest === d) ?? null;
    },
    byId: () => Promise.resolve(null),
    list: () => Promise.resolve(keys),
    revoke: () => Promise.resolve(null),
  };
  return { store, lookups };
}

function stored(secret: string, extra: Partial<StoredApiKey> = {}): StoredApiKey {
  return {
    id: 'key_t',
    name: 't',
    digest: apiKeyDigest(secret),
    scope: 'write',
    createdAt: 0,
    ...extra,
  };
}

const reasonOf = async (p: Promise<unknown>) => {
  try {
    await p;
    return 'ok';
  } catch (e) {
    return e instanceof AuthRefusal ? e.reason : String(e);
  }
};

describe('the authenticator', () => {
  it('names why it refuses, and a legacy token is an admin key', async () => {
    const revoked = generateApiKey();
    const expired = generateApiKey();
    const { store } = memoryStore([
      stored(revoked, { revokedAt: 1 }),
      stored(expired, { expiresAt: Date.now() - 1 }),
    ]);
    const a = createAuthenticator({ store, legacyTokens: ['old-token'], cacheMs: 1000 });
    const good = generateApiKey();
    const typo = `${good.slice(0, 12)}${good.charAt(12) === 'x' ? 'y' : 'x'}${good.slice(13)}`;
    expect(await reasonOf(a.authenticate([]))).toBe('missing');
    expect(await reasonOf(a.authenticate(['Basic x']))).toBe('malformed');
    expect(await reasonOf(a.authenticate(['Bearer a', 'Bearer b']))).toBe('malformed');
    expect(await reasonOf(a.authenticate(['Bearer not-a-key']))).toBe('malformed');
    expect(await reasonOf(a.authenticate([`Bearer ${typo}`]))).toBe('bad_checksum');
    expect(await reasonOf(a.authenticate([`Bearer ${good}`]))).toBe('unknown');
    expect(await reasonOf(a.authenticate([`Bearer ${revoked}`]))).toBe('revoked');
    expect(await reasonOf(a.authenticate([`Bearer ${expired}`]))).toBe('expired');
    expect(await a.authenticate(['Bearer old-token'])).toMatchObject({
      keyId: 'token-1',
      scope: 'admin',
    });
  });

  it('asks the store once per key per cacheMs, unknown keys included, and shares lookups', async () => {
    const known = generateApiKey();
    const unknown = generateApiKey();
    const { store, lookups } = memoryStore([stored(known)]);
    let now = 1000;
    const a = createAuthenticator({ store, cacheMs: 500, now: () => now });
    await Promise.all(Array.from({ length: 10 }, () => a.authenticate([`Bearer ${known}`])));
    await Promise.all(
      Array.from({ length: 10 }, () => reasonOf(a.authenticate([`Bearer ${unknown}`]))),
    );
    expect(lookups).toHaveLength(2);
    // From memory within the bound: the raw lane's synchronous check.
    expect(a.fromMemory([`Bearer ${known}`])?.keyId).toBe('key_t');
    expect(() => a.fromMemory([`Bearer ${unknown}`])).toThrow(AuthRefusal);
    now += 501;
    expect(a.fromMemory([`Bearer ${known}`])).toBeUndefined();
    await a.authenticate([`Bearer ${known}`]);
    expect(lookups).toHaveLength(3);
  });
});

describe('the gate reports each refusal once, with its reason', () => {
  it('in the middleware (scope) and in a handler (prefix)', async () => {
    const secret = generateApiKey();
    const { store } = memoryStore([
      stored(secret, { scope: 'read', prefixRules: [{ prefix: 'a/', scope: 'read' }] }),
    ]);
    const denied: DenialReason[] = [];
    const app = new Hono();
    app.use(
      authGate(
        createAuthenticator({ store, cacheMs: 1000 }),
        (c) => {
          const h = c.req.header('authorization');
          return h === undefined ? [] : [h];
        },
        (r) => denied.push(r),
      ),
    );
    app.get('/v1/keys/*', (c) => {
      requireKeyAccess(c, c.req.path.slice('/v1/keys/'.length));
      return c.text('ok');
    });
    app.put('/v1/keys/*', (c) => c.text('ok'));
    app.onError((err, c) => c.text(err.message, err instanceof AuthRefusal ? 403 : 500));
    const auth = { authorization: `Bearer ${secret}` };
    expect((await app.request('/v1/keys/a/x', { headers: auth })).status).toBe(200);
    expect((await app.request('/v1/keys/b/x', { headers: auth })).status).toBe(403);
    expect((await app.request('/v1/keys/a/x', { method: 'PUT', headers: auth })).status).toBe(403);
    expect((await app.request('/v1/keys/a/x')).status).toBe(403);
    expect((await app.request('/healthz')).status).toBe(404);
    expect(denied).toEqual(['prefix_forbidden', 'insufficient_scope', 'missing']);
  });
});
