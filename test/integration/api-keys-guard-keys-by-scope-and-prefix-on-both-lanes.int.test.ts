import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  type ApiDeps,
  type Authenticator,
  createAuthenticator,
  createRawPaths,
} from '../../src/api/index.ts';
import {
  apiKeyKeys,
  createLogger,
  generateApiKey,
  keyAllows,
  type PrefixRule,
  type Principal,
  type Scope,
  scopeAllows,
} from '../../src/core/index.ts';
import {
  type ApiKeyStore,
  createApiKeyStore,
  createRecordStore,
  newApiKey,
} from '../../src/store/index.ts';
import { rawRequest } from '../helpers/raw-http.ts';
import { call, eventually, type Stack, startStack } from '../helpers/stack.ts';

/**
 * AUTH=keys against a real stack: every key route asked on the raw fast lane (a plain target)
 * and through Hono (the same target with a trailing "?"), by keys of each scope, with and
 * without prefix rules; 401 and 403 answers with their bodies and challenges; listings,
 * receipts and ?after= filtered to what a key may read; revocation and expiry; the keys file;
 * the deprecated API_TOKENS as admin.
 */

const LEGACY = 'legacy-admin-token';
const CACHE_MS = 400;
let s: Stack;
let store: ApiKeyStore;
let dir: string;
let keysFile: string;
const secrets: Record<string, string> = {};
const principals: Record<string, Principal> = {};

async function make(
  name: string,
  scope: Scope,
  prefixRules?: PrefixRule[],
  extra: { expiresInSeconds?: number } = {},
) {
  const made = newApiKey({ name, scope, prefixRules, now: Date.now(), ...extra });
  await store.create(made.key);
  secrets[name] = made.secret;
  principals[name] = { keyId: made.key.id, name, scope, prefixRules };
  return made;
}

const auth = (secret: string) => ({ Authorization: `Bearer ${secret}` });
const admin = auth(LEGACY);

async function put(key: string, value: unknown, headers = admin) {
  const r = await call(s.url, 'PUT', `/v1/keys/${key}`, {
    body: { value },
    headers: { ...headers, Prefer: 'wait=5' },
  });
  return r;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kvq-keys-'));
  keysFile = join(dir, 'keys.json');
  // A key provisioned through the file only: read scope under shared/.
  const fileSecret = generateApiKey();
  secrets.file = fileSecret;
  const { apiKeyDigest } = await import('../../src/core/index.ts');
  writeFileSync(
    keysFile,
    JSON.stringify({
      keys: [
        {
          id: 'file-reader',
          name: 'file reader',
          digest: apiKeyDigest(fileSecret),
          scope: 'read',
          prefixes: ['shared/'],
        },
      ],
    }),
  );
  principals.file = {
    keyId: 'file-reader',
    name: 'file reader',
    scope: 'read',
    prefixRules: [{ prefix: 'shared/', scope: 'read' }],
  };
  s = await startStack({
    env: {
      AUTH: 'keys',
      API_TOKENS: LEGACY,
      KEY_CACHE_MS: String(CACHE_MS),
      API_KEYS_FILE: keysFile,
    },
  });
  store = createApiKeyStore({ redis: s.kvRedis, keys: apiKeyKeys(s.config.KEY_PREFIX) });
  principals.admin = { keyId: 'token-1', name: 'API_TOKENS', scope: 'admin' };
  secrets.admin = LEGACY;
  await make('reader', 'read');
  await make('writer', 'write');
  await make('acme', 'write', [
    { prefix: 'acme/', scope: 'write' },
    { prefix: 'acme/config/', scope: 'read' },
  ]);
  for (const k of ['acme/a', 'acme/config/x', 'acme2/b', 'shared/s', 'other/o']) {
    expect((await put(k, 'kept')).status).toBe(201);
  }
});
afterAll(async () => {
  await s.stop();
  rmSync(dir, { recursive: true, force: true });
});

const ROUTES = [
  { method: 'GET', target: (k: string) => `/v1/keys/${k}`, need: 'read', ok: [200] },
  { method: 'GET', target: (k: string) => `/v1/keys/${k}?`, need: 'read', ok: [200] },
  { method: 'PUT', target: (k: string) => `/v1/keys/${k}`, need: 'write', ok: [202] },
  { method: 'PUT', target: (k: string) => `/v1/keys/${k}?`, need: 'write', ok: [202] },
  { method: 'DELETE', target: (k: string) => `/v1/keys/${k}`, need: 'write', ok: [202] },
  { method: 'POST', target: () => '/v1/keys', need: 'write', ok: [409] },
] as const;

describe('scope x prefix matrix, both lanes', () => {
  const WHO = ['admin', 'reader', 'writer', 'acme', 'file'] as const;
  const KEYS = ['acme/a', 'acme/config/x', 'acme2/b', 'shared/s'] as const;

  it.each(WHO)('%s gets what the route table and its prefix rules say', async (who) => {
    const p = principals[who]!;
    for (const route of ROUTES) {
      for (const key of KEYS) {
        // Twice: the first request may verify the key in Redis (Hono), the second from the cache.
        for (let round = 0; round < 2; round++) {
          const r = await call(s.url, route.method, route.target(key), {
            headers: auth(secrets[who]!),
            // A write's body: the value it already holds, so an allowed write changes nothing.
            body:
              route.method === 'POST'
                ? { key, value: 'kept' }
                : route.method === 'PUT'
                  ? { value: 'kept' }
                  : undefined,
          });
          const where = `${who} ${route.method} ${route.target(key)}`;
          if (!scopeAllows(p.scope, route.need)) {
            expect(r.status, where).toBe(403);
            expect(r.body.code, where).toBe('INSUFFICIENT_SCOPE');
            expect(r.headers.get('www-authenticate'), where).toBe(
              `Bearer realm="kvq", error="insufficient_scope", scope="${route.need}"`,
            );
          } else if (!keyAllows(p, key, route.need)) {
            expect(r.status, where).toBe(403);
            expect(r.body.code, where).toBe('KEY_FORBIDDEN');
            expect(r.headers.get('content-type')).toBe('application/problem+json');
          } else {
            expect(route.ok as readonly number[], where).toContain(r.status);
          }
          // A DELETE that went through: put the key back for the next route and key.
          if (route.method === 'DELETE' && r.status === 202) {
            expect((await put(key, 'kept')).status).toBe(201);
          }
        }
      }
    }
  });

  it('refused writes changed nothing', async () => {
    for (const key of KEYS) {
      const r = await call(s.url, 'GET', `/v1/keys/${key}`, { headers: admin });
      expect(r.body.value).toBe('kept');
    }
  });
});

describe('401 answers, alike on both lanes', () => {
  it.each([
    ['no Authorization', undefined, 'Bearer realm="kvq"', /send Authorization/],
    [
      'not a kvq key',
      'Bearer nope',
      'Bearer realm="kvq", error="invalid_token"',
      /not a kvq API key/,
    ],
    ['a typo (checksum)', 'typo', 'Bearer realm="kvq", error="invalid_token"', /checksum is wrong/],
    ['an unknown key', 'unknown', 'Bearer realm="kvq", error="invalid_token"', /not known/],
  ] as const)('%s', async (_name, how, challenge, detail) => {
    let header: string | undefined = how;
    if (how === 'typo') {
      const k = secrets.reader!;
      const c = k.charAt(10) === 'a' ? 'b' : 'a';
      header = `Bearer ${k.slice(0, 10)}${c}${k.slice(11)}`;
    }
    if (how === 'unknown') header = `Bearer ${generateApiKey()}`;
    for (const target of ['/v1/keys/acme/a', '/v1/keys/acme/a?']) {
      const r = await call(s.url, 'GET', target, {
        headers: header === undefined ? {} : { Authorization: header },
      });
      expect(r.status).toBe(401);
      expect(r.headers.get('content-type')).toBe('application/problem+json');
      expect(r.headers.get('www-authenticate')).toBe(challenge);
      expect(r.body).toMatchObject({ status: 401, code: 'UNAUTHORIZED' });
      expect(r.body.detail).toMatch(detail);
    }
  });

  it('probes, the document and docs stay open', async () => {
    for (const path of ['/healthz', '/readyz', '/openapi.json']) {
      expect((await call(s.url, 'GET', path)).status).toBe(200);
    }
  });
});

describe('listings, receipts and ?after= show only readable keys', () => {
  const keysOf = (r: { body: { items: { key: string }[] } }) => r.body.items.map((i) => i.key);

  it('a listing holds only readable keys; a prefix with none readable is 403', async () => {
    const acme = auth(secrets.acme!);
    expect(keysOf(await call(s.url, 'GET', '/v1/keys', { headers: acme }))).toEqual([
      'acme/a',
      'acme/config/x',
    ]);
    expect(
      keysOf(await call(s.url, 'GET', '/v1/keys?prefix=acme/config', { headers: acme })),
    ).toEqual(['acme/config/x']);
    expect(keysOf(await call(s.url, 'GET', '/v1/keys?prefix=a', { headers: acme }))).toEqual([
      'acme/a',
      'acme/config/x',
    ]);
    const outside = await call(s.url, 'GET', '/v1/keys?prefix=acme2', { headers: acme });
    expect(outside.status).toBe(403);
    expect(outside.body.code).toBe('KEY_FORBIDDEN');
    const file = await call(s.url, 'GET', '/v1/keys', { headers: auth(secrets.file!) });
    expect(keysOf(file)).toEqual(['shared/s']);
    const all = await call(s.url, 'GET', '/v1/keys', { headers: auth(secrets.reader!) });
    expect(keysOf(all)).toEqual(['acme/a', 'acme/config/x', 'acme2/b', 'other/o', 'shared/s']);
  });

  it('pages of a filtered listing walk every readable key once', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const q: string = cursor === null ? '' : `&cursor=${cursor}`;
      const r = await call(s.url, 'GET', `/v1/keys?limit=1${q}`, {
        headers: auth(secrets.acme!),
      });
      expect(r.status).toBe(200);
      seen.push(...keysOf(r));
      cursor = r.body.nextCursor as string | null;
    } while (cursor !== null);
    expect(seen).toEqual(['acme/a', 'acme/config/x']);
  });

  it("another prefix's receipt is unknown, and so is its op in ?after=", async () => {
    const theirs = await call(s.url, 'PUT', '/v1/keys/acme2/b', {
      body: { value: 'kept' },
      headers: { ...admin, Prefer: 'wait=5' },
    });
    const opId = theirs.body.op.id as string;
    const acme = auth(secrets.acme!);
    const receipt = await call(s.url, 'GET', `/v1/ops/${opId}`, { headers: acme });
    expect(receipt.status).toBe(404);
    expect(receipt.body.code).toBe('OP_NOT_FOUND');
    const after = await call(s.url, 'GET', `/v1/keys/acme/a?after=${opId}`, { headers: acme });
    expect(after.status).toBe(404);
    expect(after.body.code).toBe('OP_NOT_FOUND');
    // Its own op it sees, and the reader (no prefixes) sees every op.
    const mine = await put('acme/a', 'kept', acme);
    const own = await call(s.url, 'GET', `/v1/ops/${mine.body.op.id as string}`, { headers: acme });
    expect(own.status).toBe(200);
    const reader = await call(s.url, 'GET', `/v1/ops/${opId}`, { headers: auth(secrets.reader!) });
    expect(reader.status).toBe(200);
  });
});

describe('admin routes', () => {
  it('dead letters and keys need admin', async () => {
    for (const [method, path] of [
      ['GET', '/v1/dlq'],
      ['GET', '/v1/admin/keys'],
      ['DELETE', '/v1/dlq/x'],
    ] as const) {
      const w = await call(s.url, method, path, { headers: auth(secrets.writer!) });
      expect(w.status, path).toBe(403);
      expect(w.body.code).toBe('INSUFFICIENT_SCOPE');
      expect(w.headers.get('www-authenticate')).toContain('scope="admin"');
    }
    expect((await call(s.url, 'GET', '/v1/dlq', { headers: admin })).status).toBe(200);
  });

  it('create answers the secret once; list and get never show it; revoke is idempotent', async () => {
    const created = await call(s.url, 'POST', '/v1/admin/keys', {
      headers: admin,
      body: { name: 'ci', scope: 'read', prefixes: [{ prefix: 'shared/' }], rateLimitPerSecond: 5 },
    });
    expect(created.status).toBe(201);
    const secret = created.body.secret as string;
    const id = created.body.key.id as string;
    expect(secret).toMatch(/^kvq_[0-9A-Za-z]{36}$/);
    expect(created.body.key).toMatchObject({
      name: 'ci',
      scope: 'read',
      prefixes: [{ prefix: 'shared/', scope: 'read' }],
      rateLimitPerSecond: 5,
      revokedAt: null,
    });
    expect((await call(s.url, 'GET', '/v1/keys/shared/s', { headers: auth(secret) })).status).toBe(
      200,
    );
    const list = await call(s.url, 'GET', '/v1/admin/keys', { headers: admin });
    expect(list.text).not.toContain(secret);
    expect(list.text).not.toContain(secret.slice(4, 20));
    expect(list.body.items.map((k: { id: string }) => k.id)).toContain(id);
    const one = await call(s.url, 'GET', `/v1/admin/keys/${id}`, { headers: admin });
    expect(one.body.fingerprint).toMatch(/^[0-9a-f]{8}$/);
    expect(JSON.stringify(one.body)).not.toMatch(/[0-9a-f]{64}/);
    for (let i = 0; i < 2; i++) {
      expect((await call(s.url, 'DELETE', `/v1/admin/keys/${id}`, { headers: admin })).status).toBe(
        204,
      );
    }
    const missing = await call(s.url, 'DELETE', '/v1/admin/keys/key_nope', { headers: admin });
    expect(missing.status).toBe(404);
    expect(missing.body.code).toBe('API_KEY_NOT_FOUND');
    const bad = await call(s.url, 'POST', '/v1/admin/keys', {
      headers: admin,
      body: { name: 'x', scope: 'admin', prefixes: [{ prefix: 'a/' }] },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe('VALIDATION_FAILED');
    // A name is printed by `kvq keys list`: a terminal escape in it is refused.
    const escape = await call(s.url, 'POST', '/v1/admin/keys', {
      headers: admin,
      body: { name: 'ci\u001b[2J\u0000', scope: 'read' },
    });
    expect([escape.status, escape.body.code]).toEqual([400, 'VALIDATION_FAILED']);
    expect(escape.body.errors[0].path).toBe('name');
  });
});

describe('revocation, expiry and the keys file', () => {
  it(`a revoked key is refused on both lanes once KEY_CACHE_MS (${String(CACHE_MS)} ms) passed`, async () => {
    const { key } = await make('soon-revoked', 'read');
    const headers = auth(secrets['soon-revoked']!);
    // Verified and cached (Hono), then served from the cache (raw lane).
    expect((await call(s.url, 'GET', '/v1/keys/other/o', { headers })).status).toBe(200);
    expect((await call(s.url, 'GET', '/v1/keys/other/o', { headers })).status).toBe(200);
    expect(
      (await call(s.url, 'DELETE', `/v1/admin/keys/${key.id}`, { headers: admin })).status,
    ).toBe(204);
    await new Promise((r) => setTimeout(r, CACHE_MS + 50));
    for (const target of ['/v1/keys/other/o', '/v1/keys/other/o?']) {
      const r = await call(s.url, 'GET', target, { headers });
      expect(r.status).toBe(401);
      expect(r.headers.get('www-authenticate')).toBe('Bearer realm="kvq", error="invalid_token"');
      expect(r.body.detail).toMatch(/revoked/);
    }
  });

  it('an expired key is refused at once, even while cached', async () => {
    const made = newApiKey({ name: 'brief', scope: 'read', now: Date.now() });
    made.key.expiresAt = Date.now() + 800;
    await store.create(made.key);
    const headers = auth(made.secret);
    expect((await call(s.url, 'GET', '/v1/keys/other/o', { headers })).status).toBe(200);
    await eventually(() => Date.now() > (made.key.expiresAt ?? 0), 5000);
    for (const target of ['/v1/keys/other/o', '/v1/keys/other/o?']) {
      const r = await call(s.url, 'GET', target, { headers });
      expect(r.status).toBe(401);
      expect(r.body.detail).toMatch(/expired/);
    }
  });

  it('a key removed from the keys file stops working once the file is read again', async () => {
    const headers = auth(secrets.file!);
    expect((await call(s.url, 'GET', '/v1/keys/shared/s', { headers })).status).toBe(200);
    writeFileSync(keysFile, JSON.stringify({ keys: [] }));
    const refused = await eventually(
      async () => (await call(s.url, 'GET', '/v1/keys/shared/s', { headers })).status === 401,
      5000,
    );
    expect(refused).toBe(true);
  });
});

describe('the raw fast lane takes only keys verified in memory', () => {
  let server: Server;
  let rawPort: number;
  let authenticator: Authenticator;
  beforeAll(async () => {
    authenticator = createAuthenticator({ store, cacheMs: 60_000 });
    const deps = {
      records: createRecordStore({ redis: s.kvRedis, layout: s.layout, fenceWindowMs: 60_000 }),
      limits: { maxKeyBytes: 64, maxValueBytes: 1024 },
      auth: authenticator,
      logger: createLogger('silent', 'test'),
      isShuttingDown: () => false,
    } as unknown as ApiDeps;
    const rawPaths = createRawPaths(deps);
    server = createServer((req, res) => {
      if (rawPaths(req, res)) return;
      req.resume();
      res.writeHead(418, { 'Content-Length': '8' });
      res.end('fallback');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    rawPort = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise((r) => server.close(r));
  });

  const get = async (key: string, secret: string) =>
    (
      await rawRequest(
        rawPort,
        Buffer.from(
          `GET /v1/keys/${key} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${secret}\r\nConnection: close\r\n\r\n`,
        ),
      )
    )?.status;

  it('a cache miss goes to Hono (418 here); once verified, the raw lane answers', async () => {
    const secret = secrets.acme!;
    expect(await get('acme/a', secret)).toBe(418);
    await authenticator.authenticate([`Bearer ${secret}`]);
    expect(await get('acme/a', secret)).toBe(200);
    // Outside its prefixes, and unknown keys: Hono renders the refusal.
    expect(await get('acme2/b', secret)).toBe(418);
    expect(await get('acme/a', generateApiKey())).toBe(418);
  });
});
