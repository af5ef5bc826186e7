import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { apiKeyKeys, type PrefixRule } from '../../src/core/index.ts';
import { createApiKeyStore, newApiKey } from '../../src/store/index.ts';
import { call, type Stack, startStack } from '../helpers/stack.ts';

/**
 * A listing for a key with prefix rules scans raw pages and may answer a short page with a
 * cursor; that cursor is plain base64url, so it must never be the name of a key the caller may
 * not read (a hidden key before its prefixes, or one under a `none` rule), and paging on from it
 * must still reach every readable key once.
 */

const ADMIN = 'cursor-admin-token';
let s: Stack;
const secrets: Record<string, string> = {};

const HIDDEN = [
  ...Array.from({ length: 25 }, (_, i) => `aa-hidden-${String(i).padStart(2, '0')}`),
  ...Array.from({ length: 25 }, (_, i) => `acme/vault/${String(i).padStart(2, '0')}`),
  'zz-hidden',
];
const READABLE = ['acme/a', 'acme/vault/open/1', 'acme/z'];

beforeAll(async () => {
  s = await startStack({ env: { AUTH: 'keys', API_TOKENS: ADMIN, KEY_CACHE_MS: '1000' } });
  const store = createApiKeyStore({ redis: s.kvRedis, keys: apiKeyKeys(s.config.KEY_PREFIX) });
  const make = async (name: string, prefixRules: PrefixRule[]) => {
    const made = newApiKey({ name, scope: 'read', prefixRules, now: Date.now() });
    await store.create(made.key);
    secrets[name] = made.secret;
  };
  await make('veiled', [
    { prefix: 'acme/', scope: 'read' },
    { prefix: 'acme/vault/', scope: 'none' },
    { prefix: 'acme/vault/open/', scope: 'read' },
  ]);
  for (const k of [...HIDDEN, ...READABLE]) {
    const r = await call(s.url, 'PUT', `/v1/keys/${k}`, {
      body: { value: 1 },
      headers: { authorization: `Bearer ${ADMIN}`, prefer: 'wait=5' },
    });
    expect(r.status).toBe(201);
  }
});
afterAll(async () => {
  await s.stop();
});

describe('listing cursors', () => {
  it.each([[''], ['&prefix=a'], ['&prefix=acme/']])(
    'name no hidden key, and page through every readable key once (%s)',
    async (query) => {
      const seen: string[] = [];
      const cursors: string[] = [];
      let cursor: string | null = null;
      for (let pages = 0; pages < 100; pages++) {
        const q: string = cursor === null ? '' : `&cursor=${cursor}`;
        const r = await call(s.url, 'GET', `/v1/keys?limit=1${query}${q}`, {
          headers: { authorization: `Bearer ${secrets.veiled!}` },
        });
        expect(r.status).toBe(200);
        seen.push(...(r.body.items as { key: string }[]).map((i) => i.key));
        cursor = r.body.nextCursor as string | null;
        if (cursor === null) break;
        cursors.push(Buffer.from(cursor, 'base64url').toString('utf8'));
      }
      expect(cursor).toBeNull();
      expect(seen).toEqual(READABLE);
      for (const c of cursors) expect(HIDDEN).not.toContain(c);
    },
  );
});
