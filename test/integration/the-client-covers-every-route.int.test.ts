import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  createClient,
  isTerminal,
  type KvqClient,
  KvqError,
  type OpReceipt,
} from '../../src/client/index.ts';
import { createLedger, type Ledger } from '../../src/store/index.ts';
import { call, type Stack, startStack } from '../helpers/stack.ts';

/**
 * The typed client (kvq/client) against the real API and worker on real Redis: every route, the
 * waits, conditions, idempotency keys, receipts, paging, dead letters, and errors as KvqError.
 */

const TOKEN = 'client-test-token';
let s: Stack;
let kvq: KvqClient;
let ledger: Ledger;
/** Every request the client made: method and path (without the query). */
const requests: { method: string; path: string }[] = [];

const recordingFetch: typeof fetch = (input, init) => {
  const url = new URL(input instanceof Request ? input.url : String(input));
  requests.push({ method: (init?.method ?? 'GET').toLowerCase(), path: url.pathname });
  return fetch(input, init);
};

beforeAll(async () => {
  s = await startStack({ env: { API_TOKENS: TOKEN } });
  kvq = createClient({ url: s.url, token: TOKEN, fetch: recordingFetch });
  ledger = createLedger({
    redis: s.queueRedis,
    layout: s.layout,
    retentionMs: 3_600_000,
    retentionCount: 100_000,
  });
});
afterAll(async () => {
  await s.stop();
});

/** The KvqError a promise rejects with (fails the test when it resolves). */
async function failure(p: Promise<unknown>): Promise<KvqError> {
  const err = await p.then(
    () => new Error('expected a KvqError'),
    (e: unknown) => e,
  );
  if (!(err instanceof KvqError)) throw err;
  return err;
}

describe('keys', () => {
  it('put without a wait answers accepted with a receipt, which waitForOp follows to applied', async () => {
    const r = await kvq.put('c/plain', { n: 1 });
    expect(r.outcome).toBe('accepted');
    const op = r.op as OpReceipt;
    expect(op).toMatchObject({ key: 'c/plain', type: 'put', version: 1 });
    expect(['queued', 'active', 'applied']).toContain(op.status);
    const done = await kvq.waitForOp(op.id, { timeoutMs: 20_000 });
    expect(done.status).toBe('applied');
    expect(isTerminal(done)).toBe(true);
    expect(await kvq.getOp(op.id)).toEqual(done);
    expect((await kvq.get('c/plain')).value).toEqual({ n: 1 });
  });

  it('put with a wait answers applied with the record, created first and updated then', async () => {
    const first = await kvq.put('c/waited', 'one', { wait: 10, ttlSeconds: 600 });
    expect(first.outcome).toBe('applied');
    expect(first.created).toBe(true);
    expect(first.record).toMatchObject({ key: 'c/waited', value: 'one', version: 1 });
    expect(first.record?.expiresAt).toBeTypeOf('string');
    expect(first.op?.status).toBe('applied');
    const second = await kvq.put('c/waited', 'two', { wait: true });
    expect(second).toMatchObject({ outcome: 'applied', created: false });
    expect(second.record?.version).toBe(2);
    const read = await kvq.get('c/waited');
    expect(read).toMatchObject({ key: 'c/waited', value: 'two', version: 2, expiresAt: null });
  });

  it('keys with "/", spaces and non-ASCII characters round-trip', async () => {
    const key = 'c/odd key/é?#%/x';
    await kvq.put(key, [1, 2], { wait: 10 });
    expect((await kvq.get(key)).value).toEqual([1, 2]);
    expect(await kvq.head(key)).toEqual({ version: 1 });
  });

  it('a key with a "." or ".." segment is refused before sending; no other key is read or written', async () => {
    for (const k of ['victim', 'x', 'b/c']) await kvq.put(`dots/${k}`, k, { wait: 10 });
    const snapshot = async () => (await kvq.listKeys({ prefix: 'dots/' })).items;
    const before = await snapshot();
    expect(before.map((i) => i.key)).toEqual(['dots/b/c', 'dots/victim', 'dots/x']);
    const segment = fc.constantFrom('.', '..', 'victim', 'x', 'b', 'c');
    const dotted = fc
      .array(segment, { minLength: 1, maxLength: 4 })
      .map((s) => `dots/${s.join('/')}`)
      .filter((k) => k.split('/').some((s) => s === '.' || s === '..'));
    await fc.assert(
      fc.asyncProperty(dotted, async (key) => {
        const sent = requests.length;
        const calls = [
          kvq.get(key),
          kvq.head(key),
          kvq.getIfChanged(key, 1),
          kvq.put(key, 'moved', { wait: 5 }),
          kvq.create(key, 'moved', { wait: 5 }),
          kvq.delete(key, { wait: 5 }),
        ];
        for (const call of calls) {
          const err = await failure(call);
          expect(err).toMatchObject({ code: 'INVALID_KEY', status: 400 });
          expect(err.retryable).toBe(false);
        }
        expect(requests.length).toBe(sent);
      }),
      { numRuns: 30 },
    );
    expect(await snapshot()).toEqual(before);
  });

  it('a "%2e" or "..." segment is no dot segment: it names exactly that key', async () => {
    for (const key of ['dots/%2e/x', 'dots/%2E%2e/victim', 'dots/.../x', 'dots/.x/..y']) {
      await kvq.put(key, key, { wait: 10 });
      expect((await kvq.get(key)).value).toBe(key);
    }
    const keys = (await kvq.listKeys({ prefix: 'dots/' })).items.map((i) => i.key);
    expect(keys).toEqual(
      [
        'dots/%2E%2e/victim',
        'dots/%2e/x',
        'dots/.../x',
        'dots/.x/..y',
        'dots/b/c',
        'dots/victim',
        'dots/x',
      ].sort(),
    );
    expect((await kvq.get('dots/victim')).value).toBe('victim');
  });

  it('get throws KEY_NOT_FOUND; head answers null; getIfChanged answers null when unchanged', async () => {
    const missing = await failure(kvq.get('c/none'));
    expect(missing).toMatchObject({ code: 'KEY_NOT_FOUND', status: 404 });
    expect(missing.requestId).toBeTypeOf('string');
    expect(await kvq.head('c/none')).toBeNull();

    await kvq.put('c/etag', 1, { wait: 10 });
    expect(await kvq.getIfChanged('c/etag', 1)).toBeNull();
    await kvq.put('c/etag', 2, { wait: 10 });
    expect(await kvq.getIfChanged('c/etag', 1)).toMatchObject({ value: 2, version: 2 });
  });

  it('get with after reads the write that op made', async () => {
    const r = await kvq.put('c/after', 'mine');
    const read = await kvq.get('c/after', { after: r.op?.id, waitSeconds: 10 });
    expect(read.value).toBe('mine');
    const unknown = await failure(kvq.get('c/after', { after: 'no-such-op' }));
    expect(unknown.code).toBe('OP_NOT_FOUND');
  });

  it('If-Match and If-None-Match decide writes; a failed condition is a KvqError', async () => {
    const created = await kvq.put('c/cas', 'a', { ifNoneMatch: '*', wait: 10 });
    expect(created.created).toBe(true);
    const again = await failure(kvq.put('c/cas', 'b', { ifNoneMatch: '*', wait: 10 }));
    expect(again).toMatchObject({ code: 'PRECONDITION_FAILED', status: 412 });
    expect(again.problem?.currentVersion).toBe(1);

    const matched = await kvq.put('c/cas', 'b', { ifMatch: 1, wait: 10 });
    expect(matched.record?.version).toBe(2);
    const stale = await failure(kvq.put('c/cas', 'c', { ifMatch: 1, wait: 10 }));
    expect(stale.code).toBe('PRECONDITION_FAILED');
    expect((await kvq.get('c/cas')).value).toBe('b');

    const anyVersion = await kvq.put('c/cas', 'd', { ifMatch: '*', wait: 10 });
    expect(anyVersion.outcome).toBe('applied');
    const absent = await failure(kvq.put('c/cas-none', 'x', { ifMatch: '*', wait: 10 }));
    expect(absent.status).toBe(412);
  });

  it('create makes a key that must not exist; KEY_EXISTS otherwise', async () => {
    const r = await kvq.create('c/created', { v: 1 }, { wait: 10 });
    expect(r).toMatchObject({ outcome: 'applied', created: true });
    expect(r.record?.value).toEqual({ v: 1 });
    const exists = await failure(kvq.create('c/created', { v: 2 }, { wait: 10 }));
    expect(exists).toMatchObject({ code: 'KEY_EXISTS', status: 409 });
    const queued = await kvq.create('c/created-queued', 1);
    expect(queued.outcome).toBe('accepted');
  });

  it('delete: queued, waited (applied, no receipt), conditional, and KEY_NOT_FOUND', async () => {
    await kvq.put('c/del', 1, { wait: 10 });
    const stale = await failure(kvq.delete('c/del', { ifMatch: 7, wait: 10 }));
    expect(stale.code).toBe('PRECONDITION_FAILED');
    const r = await kvq.delete('c/del', { ifMatch: 1, wait: 10 });
    expect(r.outcome).toBe('applied');
    expect(r.op).toBeUndefined();
    expect(await kvq.head('c/del')).toBeNull();
    const gone = await failure(kvq.delete('c/del', { wait: 10 }));
    expect(gone.code).toBe('KEY_NOT_FOUND');

    await kvq.put('c/del2', 1, { wait: 10 });
    const queued = await kvq.delete('c/del2');
    expect(queued.outcome).toBe('accepted');
    expect((await kvq.waitForOp(queued.op?.id ?? '')).status).toBe('applied');
  });

  it('an Idempotency-Key returns the first op; reused for another request it is refused', async () => {
    const a = await kvq.put('c/idem', 'v', { idempotencyKey: 'idem-1', wait: 10 });
    const b = await kvq.put('c/idem', 'v', { idempotencyKey: 'idem-1', wait: 10 });
    expect(b.op?.id).toBe(a.op?.id);
    expect(b.record?.version).toBe(1);
    const reused = await failure(kvq.put('c/idem', 'other', { idempotencyKey: 'idem-1' }));
    expect(reused).toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED', status: 422 });
  });

  it('listKeys pages with a cursor and keys() walks every page', async () => {
    const keys = Array.from({ length: 7 }, (_, i) => `c/list/${String(i)}`);
    for (const k of keys) await kvq.put(k, k, { wait: 10 });
    const page = await kvq.listKeys({ prefix: 'c/list/', limit: 3 });
    expect(page.items.map((i) => i.key)).toEqual(keys.slice(0, 3));
    expect(page.nextCursor).toBeTypeOf('string');
    const next = await kvq.listKeys({ prefix: 'c/list/', limit: 3, cursor: page.nextCursor ?? '' });
    expect(next.items.map((i) => i.key)).toEqual(keys.slice(3, 6));
    const all = [];
    for await (const item of kvq.keys({ prefix: 'c/list/', limit: 2 })) all.push(item.key);
    expect(all).toEqual(keys);
    const bad = await failure(kvq.listKeys({ cursor: '***' }));
    expect(bad).toMatchObject({ code: 'INVALID_CURSOR', status: 400 });
  });

  it('validation failures carry their field errors', async () => {
    const err = await failure(kvq.put('c/ttl', 1, { ttlSeconds: 0 }));
    expect(err).toMatchObject({ code: 'VALIDATION_FAILED', status: 400 });
    expect(err.errors.length).toBeGreaterThan(0);
    expect(err.retryable).toBe(false);
  });

  it('getOp throws OP_NOT_FOUND for an unknown op', async () => {
    const err = await failure(kvq.getOp('nope'));
    expect(err).toMatchObject({ code: 'OP_NOT_FOUND', status: 404 });
  });
});

describe('dead letters', () => {
  /** Files a dead letter for a put of `value` to `key` (as finish.lua does when an op dies). */
  async function bury(key: string, value: unknown, version = 1): Promise<string> {
    const opId = ledger.newOpId(key);
    await ledger.finish({
      opId,
      key,
      status: 'dead',
      attempts: 3,
      error: { code: 'DATA_UNAVAILABLE', message: 'data Redis: connect ECONNREFUSED' },
      deadLetter: {
        opId,
        key,
        type: 'put',
        version,
        acceptedAt: Date.now(),
        value: JSON.stringify(value),
      },
    });
    return opId;
  }

  it('lists, shows, replays (with a wait), refuses a stale replay unless forced, and discards', async () => {
    const a = await bury('dl/a', { v: 'a' });
    const b = await bury('dl/b', { v: 'b' });
    const c = await bury('dl/c', { v: 'c' });

    const page = await kvq.listDeadLetters({ limit: 2 });
    expect(page.items).toHaveLength(2);
    expect(page.nextCursor).toBeTypeOf('string');
    const all = [];
    for await (const d of kvq.deadLetters({ limit: 1 })) all.push(d.id);
    expect(all.sort()).toEqual([a, b, c].sort());

    const shown = await kvq.getDeadLetter(a);
    expect(shown).toMatchObject({ id: a, key: 'dl/a', type: 'put', version: 1 });
    expect(shown.error.code).toBe('DATA_UNAVAILABLE');
    expect(shown.op?.value).toEqual({ v: 'a' });

    const replayed = await kvq.replayDeadLetter(a, { wait: 10 });
    expect(replayed.outcome).toBe('applied');
    expect(replayed.op?.replayOf).toBe(a);
    expect((await kvq.get('dl/a')).value).toEqual({ v: 'a' });
    expect((await failure(kvq.getDeadLetter(a))).code).toBe('DEAD_LETTER_NOT_FOUND');

    // dl/b took a later write: replaying the dead one would overwrite it.
    await kvq.put('dl/b', 'newer', { wait: 10 });
    await kvq.put('dl/b', 'newest', { wait: 10 });
    const stale = await failure(kvq.replayDeadLetter(b));
    expect(stale).toMatchObject({ code: 'NOT_REPLAYABLE', status: 409 });
    const forced = await kvq.replayDeadLetter(b, { force: true, wait: 10 });
    expect(forced.outcome).toBe('applied');
    expect((await kvq.get('dl/b')).value).toEqual({ v: 'b' });

    await kvq.discardDeadLetter(c);
    expect((await failure(kvq.discardDeadLetter(c))).code).toBe('DEAD_LETTER_NOT_FOUND');
    await expect(kvq.head('dl/c')).resolves.toBeNull();
  });

  it('replayAllDeadLetters replays the ones under a prefix', async () => {
    const x = await bury('dlall/x', 'x');
    const other = await bury('dlother/y', 'y');
    const r = await kvq.replayAllDeadLetters({ prefix: 'dlall/' });
    expect(r).toEqual({ retried: 1, skipped: 0 });
    expect((await failure(kvq.getDeadLetter(x))).code).toBe('DEAD_LETTER_NOT_FOUND');
    expect((await kvq.getDeadLetter(other)).key).toBe('dlother/y');
    await kvq.discardDeadLetter(other);
  });

  it('listAuditEntries pages the audit log of those actions, newest first', async () => {
    const first = await kvq.listAuditEntries({ limit: 2 });
    expect(first.items).toHaveLength(2);
    expect(first.items[0]).toMatchObject({ action: 'dead_letter.discard', outcome: 'ok' });
    expect(first.items[1]).toMatchObject({ action: 'dead_letter.replay_all', target: 'dlall/' });
    expect(first.nextCursor).toBeTypeOf('string');
    const next = await kvq.listAuditEntries({ limit: 1, cursor: first.nextCursor ?? '' });
    expect(next.items[0]?.id).not.toBe(first.items[1]?.id);
    expect((await failure(kvq.listAuditEntries({ cursor: 'x' }))).code).toBe('INVALID_CURSOR');
  });
});

describe('API keys (admin)', () => {
  it('create, list, get and revoke; the new key works until revoked', async () => {
    const made = await kvq.createApiKey({
      name: 'client',
      scope: 'read',
      prefixes: [{ prefix: 'k/' }],
    });
    expect(made.secret).toMatch(/^kvq_/);
    expect((await kvq.listApiKeys()).map((k) => k.id)).toContain(made.key.id);
    expect(await kvq.getApiKey(made.key.id)).toMatchObject({ name: 'client', revokedAt: null });
    await kvq.revokeApiKey(made.key.id);
    expect((await kvq.getApiKey(made.key.id)).revokedAt).not.toBeNull();
    expect((await failure(kvq.getApiKey('key_none'))).code).toBe('API_KEY_NOT_FOUND');
  });
});

describe('health, auth and transport errors', () => {
  it('health and ready answer', async () => {
    expect(await kvq.health()).toEqual({ status: 'ok' });
    const ready = await kvq.ready();
    expect(ready.status).toBe('ready');
  });

  it('no token or a wrong one: UNAUTHORIZED (401)', async () => {
    for (const token of [undefined, 'wrong']) {
      const err = await failure(createClient({ url: s.url, token }).get('c/plain'));
      expect(err).toMatchObject({ code: 'UNAUTHORIZED', status: 401 });
    }
  });

  it('a server that is not there: UNREACHABLE with status 0, retryable', async () => {
    const { freePort } = await import('../../src/redis/index.ts');
    const port = await freePort();
    const err = await failure(createClient({ url: `http://127.0.0.1:${String(port)}` }).health());
    expect(err).toMatchObject({ code: 'UNREACHABLE', status: 0 });
    expect(err.retryable).toBe(true);
  });
});

describe('coverage', () => {
  // Last in this file: every operation in the app's OpenAPI document was called by a test above.
  it('the tests above called every operation in the OpenAPI document', async () => {
    const doc = (await call(s.url, 'GET', '/openapi.json')).body as {
      paths: Record<string, Record<string, unknown>>;
    };
    const templates = Object.keys(doc.paths);
    /** The documented path a request went to: a literal path first, else a template. */
    const templateOf = (path: string, method: string) =>
      templates.find((t) => t === path && doc.paths[t]?.[method]) ??
      templates.find((t) => {
        const re = new RegExp(`^${t.replace(/\{key\}/g, '.+').replace(/\{[^}]+\}/g, '[^/]+')}$`);
        return re.test(path) && doc.paths[t]?.[method] !== undefined;
      });
    const called = new Set(
      requests.map((r) => `${r.method} ${templateOf(r.path, r.method) ?? r.path}`),
    );
    const methods = ['get', 'put', 'post', 'delete', 'head', 'patch'];
    // The API's routes (not the document itself or the docs UI, should they be listed).
    const apiRoutes = templates.filter((t) => /^\/(v1\/|healthz$|readyz$)/.test(t));
    const documented = apiRoutes.flatMap((t) =>
      methods.filter((m) => doc.paths[t]?.[m] !== undefined).map((m) => `${m} ${t}`),
    );
    expect(documented.length).toBeGreaterThan(10);
    // A HEAD twin of a GET answers the GET's headers without its body; the client has a method for
    // the one a caller needs (a key's version without its value). The others count as covered when
    // their GET is, since the server answers both from one handler.
    const covered = (op: string) =>
      called.has(op) ||
      (op.startsWith('head ') && op !== 'head /v1/keys/{key}' && called.has(`get ${op.slice(5)}`));
    expect(documented.filter((op) => !covered(op))).toEqual([]);
  });
});
