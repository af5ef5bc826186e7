import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { RAW_ROUTES } from '../../src/api/index.ts';
import { ERRORS } from '../../src/core/index.ts';
import { createLedger } from '../../src/store/index.ts';
import { honoRoutes } from '../helpers/hono-routes.ts';
import {
  bodyValidator,
  contractErrors,
  type Doc,
  documentedCodes,
  type Exchange,
  operationOf,
  parametersOf,
} from '../helpers/openapi-contract.ts';
import { call, eventually, type Stack, startStack } from '../helpers/stack.ts';

/**
 * GET /openapi.json held against the running app (real Redis, real server, raw fast lane
 * included): every route served is documented, every documented request header changes what
 * the app answers, every answer in the traffic below (statuses, problem codes, headers, bodies)
 * is what its operation documents, every documented response header shows up on a real answer,
 * and every catalogue code the API can answer is listed under its status.
 */

const TOKEN = 'contract-token';
/** Outcomes a worker records in a receipt's `error` (GET /v1/ops/{id} answers them with 200). */
const WORKER_ONLY = ['MALFORMED_JOB', 'OP_EXPIRED', 'VERSION_REISSUED', 'DATA_NOT_REPLICATED'];
/** A known path with a method it does not serve: no operation to list it under. */
const UNROUTED = ['METHOD_NOT_ALLOWED'];

let s: Stack;
let doc: Doc;
const exchanges: Exchange[] = [];
/** `operationId header` pairs whose effect a test below observed. */
const honoured = new Set<string>();
let n = 0;

beforeAll(async () => {
  s = await startStack({
    worker: false,
    env: {
      API_TOKENS: TOKEN,
      KEY_BUSY_WAIT_MS: '50',
      READ_AFTER_WAIT_MS: '0',
      MAX_VALUE_BYTES: '1024',
    },
  });
  doc = (await call(s.url, 'GET', '/openapi.json')).body as Doc;
});
afterAll(async () => {
  await s.stop();
});

/** One request, recorded; /v1 requests carry the bearer token unless `auth` is false. */
async function send(
  method: string,
  path: string,
  init: {
    headers?: Record<string, string>;
    body?: unknown;
    rawBody?: string;
    auth?: boolean;
    /** Another stack's URL (same document): e.g. one with a rate limit. */
    base?: string;
  } = {},
) {
  const id = `contract-${String(++n)}`;
  const headers: Record<string, string> = { 'x-request-id': id, ...init.headers };
  if (init.auth !== false) headers.authorization = `Bearer ${TOKEN}`;
  let body = init.rawBody;
  if (init.body !== undefined) {
    body = JSON.stringify(init.body);
    headers['content-type'] ??= 'application/json';
  }
  // Redirects are answers too: not followed.
  const res = await fetch((init.base ?? s.url) + path, {
    method,
    headers,
    body,
    redirect: 'manual',
  });
  const text = await res.text();
  const h = Object.fromEntries(res.headers.entries());
  const parsed: any = text && /json/.test(h['content-type'] ?? '') ? JSON.parse(text) : undefined;
  exchanges.push({ method, path, sentRequestId: id, status: res.status, headers: h, body: parsed });
  return { status: res.status, h, body: parsed, text };
}

const bury = async (opId: string, key: string) => {
  const ledger = createLedger({
    redis: s.queueRedis,
    layout: s.layout,
    retentionMs: 3_600_000,
    retentionCount: 1000,
  });
  await ledger.finish({
    opId,
    key,
    status: 'dead',
    attempts: 3,
    error: { code: 'DATA_UNAVAILABLE', message: 'data Redis: connect ECONNREFUSED' },
    deadLetter: { opId, key, type: 'put', version: 1, acceptedAt: 1_000, value: '{"v":1}' },
  });
};

describe('traffic, worker stopped: writes stay pending', () => {
  it('pending ops: 202 with location, OP_PENDING and KEY_BUSY with retry-after', async () => {
    const w = await send('PUT', '/v1/keys/c/pending', { body: { value: 1 } });
    expect(w.status).toBe(202);
    const opId = w.body.op.id as string;
    expect(w.h.location).toBe(`/v1/ops/${opId}`);
    const pending = await send('GET', `/v1/keys/c/pending?after=${opId}`);
    expect([pending.status, pending.body.code]).toEqual([503, 'OP_PENDING']);
    for (const [method, path, init] of [
      ['PUT', '/v1/keys/c/pending', { body: { value: 2 }, headers: { 'if-match': '"1"' } }],
      ['DELETE', '/v1/keys/c/pending', {}],
      ['POST', '/v1/keys', { body: { key: 'c/pending', value: 2 } }],
    ] as const) {
      const busy = await send(method, path, init);
      expect([busy.status, busy.body.code, busy.h['retry-after']]).toEqual([503, 'KEY_BUSY', '1']);
    }
    expect((await send('GET', `/v1/ops/${opId}`)).body.op.status).toBe('queued');
  });

  it('idempotency-key answers the first op again, 422 for another request', async () => {
    for (const [opId, method, path, body] of [
      ['putKey', 'PUT', '/v1/keys/c/idem', { value: 1 }],
      ['createKey', 'POST', '/v1/keys', { key: 'c/idem-new', value: 1 }],
    ] as const) {
      const headers = { 'idempotency-key': `k-${opId}` };
      const first = await send(method, path, { body, headers });
      const again = await send(method, path, { body, headers });
      expect(first.status, `${opId}: ${JSON.stringify(first.body)}`).toBe(202);
      expect(again.body.op.id).toBe(first.body.op.id);
      // POST /v1/keys is recorded as what it is: a create.
      expect(first.body.op.type).toBe(method === 'POST' ? 'create' : 'put');
      const other = await send(method, path, { body: { ...body, value: 2 }, headers });
      expect(other.body.code).toBe('IDEMPOTENCY_KEY_REUSED');
      honoured.add(`${opId} idempotency-key`);
    }
  });

  it('rate limits: the RateLimit fields on answers, 429 with retry-after once over', async () => {
    // One request per 600 s per key (the deprecated API_TOKENS entry is an admin key).
    const limited = await startStack({
      worker: false,
      env: {
        API_TOKENS: TOKEN,
        RATE_LIMIT_PER_SECOND: String(1 / 600),
        RATE_LIMIT_WINDOW_SECONDS: '600',
      },
    });
    try {
      const first = await send('GET', '/v1/keys/c/limited', { base: limited.url });
      expect([first.status, first.h['ratelimit-policy']]).toEqual([404, '"default";q=1;w=600']);
      const over = await send('GET', '/v1/keys?prefix=c/', { base: limited.url });
      expect([over.status, over.body.code]).toEqual([429, 'RATE_LIMITED']);
      expect(over.h['retry-after']).toMatch(/^[1-9][0-9]*$/);
    } finally {
      await limited.stop();
    }
  });

  it('bad requests get the documented problem codes', async () => {
    const cases: [string, string, Parameters<typeof send>[2], number, string][] = [
      ['PUT', '/v1/keys/c/x', { rawBody: '{"value":', headers: json }, 400, 'MALFORMED_JSON'],
      ['PUT', '/v1/keys/c/x', { rawBody: '{"value":1}' }, 415, 'UNSUPPORTED_MEDIA_TYPE'],
      ['PUT', '/v1/keys/c/x', { body: { value: 1, ttlSeconds: 0 } }, 400, 'VALIDATION_FAILED'],
      ['PUT', '/v1/keys/c/x', { body: { value: 'v'.repeat(2000) } }, 413, 'VALUE_TOO_LARGE'],
      ['PUT', '/v1/keys/c/x', { body: { value: 'v'.repeat(9000) } }, 413, 'PAYLOAD_TOO_LARGE'],
      [
        'PUT',
        '/v1/keys/c/x',
        { body: { value: 1 }, headers: { 'if-match': 'x' } },
        400,
        'INVALID_HEADER',
      ],
      ['GET', `/v1/keys/${'k'.repeat(600)}`, {}, 414, 'KEY_TOO_LONG'],
      ['GET', '/v1/keys/c/missing', {}, 404, 'KEY_NOT_FOUND'],
      ['GET', '/v1/keys/c/x%00', {}, 400, 'INVALID_KEY'],
      ['GET', '/v1/keys?cursor=***', {}, 400, 'INVALID_CURSOR'],
      ['GET', '/v1/keys?limit=0', {}, 400, 'VALIDATION_FAILED'],
      ['GET', '/v1/ops/no-such-op', {}, 404, 'OP_NOT_FOUND'],
      ['GET', '/v1/keys/c/x?after=no-such-op', {}, 404, 'OP_NOT_FOUND'],
      ['GET', '/v1/dlq?limit=0', {}, 400, 'VALIDATION_FAILED'],
      ['GET', '/v1/dlq/no-such-op', {}, 404, 'DEAD_LETTER_NOT_FOUND'],
      ['DELETE', '/v1/dlq/no-such-op', {}, 404, 'DEAD_LETTER_NOT_FOUND'],
      ['POST', '/v1/dlq/no-such-op/retry', {}, 404, 'DEAD_LETTER_NOT_FOUND'],
      [
        'GET',
        '/v1/keys',
        { headers: { authorization: 'Bearer wrong' }, auth: false },
        401,
        'UNAUTHORIZED',
      ],
      ['GET', '/docs/no-such-asset', {}, 404, 'ROUTE_NOT_FOUND'],
    ];
    for (const [method, path, init, status, code] of cases) {
      const r = await send(method, path, init);
      expect([method, path, r.status, r.body?.code]).toEqual([method, path, status, code]);
    }
  });

  it('admin key routes; a narrower key gets 403 for its scope and its prefixes', async () => {
    const created = await send('POST', '/v1/admin/keys', {
      body: { name: 'contract', scope: 'read', prefixes: [{ prefix: 'c/' }], expiresInSeconds: 60 },
    });
    expect(created.status).toBe(201);
    const id = created.body.key.id as string;
    expect((await send('GET', '/v1/admin/keys')).status).toBe(200);
    expect((await send('GET', `/v1/admin/keys/${id}`)).status).toBe(200);
    expect((await send('GET', '/v1/admin/keys/key_none')).body.code).toBe('API_KEY_NOT_FOUND');
    const bad = await send('POST', '/v1/admin/keys', { body: { name: 'x', scope: 'owner' } });
    expect(bad.body.code).toBe('VALIDATION_FAILED');
    const reader = {
      auth: false,
      headers: { authorization: `Bearer ${created.body.secret as string}` },
    };
    const write = await send('PUT', '/v1/keys/c/r', { ...reader, body: { value: 1 } });
    expect(write.body.code).toBe('INSUFFICIENT_SCOPE');
    expect((await send('GET', '/v1/keys/d/r', reader)).body.code).toBe('KEY_FORBIDDEN');
    expect((await send('GET', '/v1/keys?prefix=d/', reader)).body.code).toBe('KEY_FORBIDDEN');
    expect((await send('DELETE', `/v1/admin/keys/${id}`)).status).toBe(204);
  });

  it('every /v1 operation answers 401 with a bearer challenge without a token', async () => {
    for (const [template, item] of Object.entries(doc.paths)) {
      if (!template.startsWith('/v1/')) continue;
      const path = template.replace('{key}', 'c/x').replace('{id}', 'no-such-op');
      for (const method of Object.keys(item)) {
        const r = await send(method.toUpperCase(), path, { auth: false });
        expect([method, path, r.status]).toEqual([method, path, 401]);
        expect(r.h['www-authenticate']).toMatch(/^Bearer /);
      }
    }
  });
});

const json = { 'content-type': 'application/json' };

describe('traffic, worker running', () => {
  beforeAll(async () => {
    await s.startWorker();
  });

  it('prefer: wait answers the outcome (201, 200, 204) with preference-applied', async () => {
    const wait = { prefer: 'wait=10' };
    const created = await send('PUT', '/v1/keys/c/b', { body: { value: 1 }, headers: wait });
    expect([created.status, created.h['preference-applied'], created.h.location]).toEqual([
      201,
      'wait=10',
      '/v1/keys/c%2Fb',
    ]);
    expect(created.body.op).toMatchObject({ type: 'put', status: 'applied', version: 1 });
    const updated = await send('PUT', '/v1/keys/c/b', { body: { value: 2 }, headers: wait });
    expect([updated.status, updated.h.etag]).toEqual([200, '"2"']);
    honoured.add('putKey prefer');

    const made = await send('POST', '/v1/keys', { body: { key: 'c/c', value: 1 }, headers: wait });
    expect(made.status).toBe(201);
    // A create's receipt says what it was: type create.
    expect(made.body.op).toMatchObject({ type: 'create', status: 'applied' });
    expect((await send('POST', '/v1/keys', { body: { key: 'c/c', value: 1 } })).body.code).toBe(
      'KEY_EXISTS',
    );
    honoured.add('createKey prefer');

    const gone = await send('DELETE', '/v1/keys/c/c', { headers: wait });
    expect([gone.status, gone.h['preference-applied']]).toEqual([204, 'wait=10']);
    expect((await send('DELETE', '/v1/keys/c/c')).body.code).toBe('KEY_NOT_FOUND');
    honoured.add('deleteKey prefer');

    const pendingOp = exchanges.find((e) => e.path === '/v1/keys/c/pending' && e.status === 202);
    const id = (pendingOp?.body as { op: { id: string } }).op.id;
    const read = await send('GET', `/v1/keys/c/pending?after=${id}`, { headers: wait });
    expect(read.status).toBe(200);
    honoured.add('getKey prefer');
    const op = await send('GET', `/v1/ops/${id}`, { headers: { prefer: 'wait=1' } });
    expect([op.status, op.h['preference-applied']]).toEqual([200, 'wait=1']);
    honoured.add('getOp prefer');
  });

  it('if-match and if-none-match decide writes; if-none-match on a read gives 304', async () => {
    const at = async (v: string) =>
      (await send('PUT', '/v1/keys/c/b', { body: { value: v }, headers: { 'if-match': v } }))
        .status;
    expect(await at('"99"')).toBe(412);
    expect(await at('"2"')).toBe(202);
    honoured.add('putKey if-match');
    // Applied before the next conditional write, which would otherwise wait on it (KEY_BUSY).
    await eventually(
      async () =>
        (
          await call(s.url, 'GET', '/v1/keys/c/b', {
            headers: { authorization: `Bearer ${TOKEN}` },
          })
        ).body?.version === 3,
    );
    const absent = { 'if-none-match': '*', prefer: 'wait=10' };
    expect(
      (await send('PUT', '/v1/keys/c/b', { body: { value: 0 }, headers: absent })).body.code,
    ).toBe('PRECONDITION_FAILED');
    expect(
      (await send('PUT', '/v1/keys/c/d', { body: { value: 0 }, headers: absent })).status,
    ).toBe(201);
    honoured.add('putKey if-none-match');
    expect((await send('DELETE', '/v1/keys/c/d', { headers: { 'if-match': '"5"' } })).status).toBe(
      412,
    );
    const once = { 'if-match': '"1"', 'idempotency-key': 'k-deleteKey' };
    const first = await send('DELETE', '/v1/keys/c/d', { headers: once });
    expect(first.status).toBe(202);
    honoured.add('deleteKey if-match');
    // A retried delete is the first op again, not a second delete (that would be 404 or 412).
    const again = await send('DELETE', '/v1/keys/c/d', { headers: once });
    expect([again.status, again.body.op.id]).toEqual([202, first.body.op.id]);
    honoured.add('deleteKey idempotency-key');

    const read = await send('GET', '/v1/keys/c/b', { headers: { prefer: 'wait=1' } });
    const etag = read.h.etag ?? '';
    expect(read.status).toBe(200);
    expect((await send('GET', '/v1/keys/c/b', { headers: { 'if-none-match': etag } })).status).toBe(
      304,
    );
    expect(
      (await send('GET', '/v1/keys/c/b', { headers: { 'if-none-match': '"0"' } })).status,
    ).toBe(200);
    honoured.add('getKey if-none-match');
    expect((await send('GET', '/v1/keys?prefix=c/&limit=2')).body.items).toHaveLength(2);
  });

  it('dead letters: listed, shown with their op (id, ISO times), replayed, discarded', async () => {
    await bury('dead-1', 'c/dead-1');
    await bury('dead-2', 'c/dead-2');
    await bury('dead-3', 'c/dead-3');
    const list = await send('GET', '/v1/dlq');
    expect(list.body.items.map((i: { id: string }) => i.id).sort()).toEqual([
      'dead-1',
      'dead-2',
      'dead-3',
    ]);
    const one = await send('GET', '/v1/dlq/dead-1');
    expect(one.body).toMatchObject({
      id: 'dead-1',
      acceptedAt: '1970-01-01T00:00:01.000Z',
      op: {
        id: 'dead-1',
        key: 'c/dead-1',
        version: 1,
        value: { v: 1 },
        acceptedAt: '1970-01-01T00:00:01.000Z',
      },
    });
    expect(one.body.op).not.toHaveProperty('opId');
    const waited = await send('POST', '/v1/dlq/dead-1/retry', { headers: { prefer: 'wait=10' } });
    expect([waited.status, waited.h['preference-applied']]).toEqual([201, 'wait=10']);
    expect(waited.body.op).toMatchObject({ replayOf: 'dead-1', status: 'applied' });
    const queued = await send('POST', '/v1/dlq/dead-2/retry');
    expect(queued.status).toBe(202);
    honoured.add('retryDeadLetter prefer');
    expect((await send('DELETE', '/v1/dlq/dead-3')).status).toBe(204);
    expect((await send('POST', '/v1/dlq/retry')).body).toEqual({ retried: 0, skipped: 0 });
  });

  it('the audit log lists those actions, paged with a cursor', async () => {
    const page = await send('GET', '/v1/admin/audit?limit=2');
    expect(page.status).toBe(200);
    expect(page.body.items.map((e: { action: string }) => e.action)).toEqual([
      'dead_letter.replay_all',
      'dead_letter.discard',
    ]);
    const next = await send(
      'GET',
      `/v1/admin/audit?limit=2&cursor=${encodeURIComponent(page.body.nextCursor as string)}`,
    );
    expect(next.body.items[0]).toMatchObject({ action: 'dead_letter.replay', target: 'dead-2' });
    expect((await send('GET', '/v1/admin/audit?cursor=x')).body.code).toBe('INVALID_CURSOR');
  });

  it('the rest: root, health, document, docs and HEAD of every GET', async () => {
    const root = await send('GET', '/');
    expect([root.status, root.h.location]).toEqual([302, '/docs']);
    for (const path of ['/healthz', '/readyz', '/openapi.json', '/docs', '/docs/docs.js']) {
      expect((await send('GET', path)).status).toBe(200);
    }
    const css = await send('GET', '/docs/swagger-ui.css');
    expect(css.h['cache-control']).toBe('public, max-age=86400');
    for (const [template, item] of Object.entries(doc.paths)) {
      if (!item.head) continue;
      const path = template
        .replace('{key}', 'c/b')
        .replace('{id}', 'dead-1')
        .replace('{asset}', 'swagger-ui.css');
      expect((await send('HEAD', path)).status, path).toBeLessThan(500);
    }
  });
});

describe('the document against that traffic', () => {
  it('is a valid OpenAPI 3.1 document', async () => {
    const r = await new Validator().validate(doc);
    expect(r.errors ?? []).toEqual([]);
    expect(r.valid).toBe(true);
  });

  it('documents every route the app serves (Hono and the raw fast lane), and no other', () => {
    const served = [...honoRoutes(s), ...RAW_ROUTES.map((r) => `${r.method} ${r.path}`)];
    const documented = Object.entries(doc.paths).flatMap(([p, item]) =>
      Object.keys(item).map((m) => `${m.toUpperCase()} ${p}`),
    );
    expect(new Set(documented)).toEqual(
      new Set([
        ...served,
        ...served.filter((r) => r.startsWith('GET ')).map((r) => `HEAD ${r.slice(4)}`),
      ]),
    );
  });

  it('every answer in the traffic is what its operation documents', () => {
    const validate = bodyValidator(doc);
    expect(exchanges.length).toBeGreaterThan(80);
    expect(exchanges.flatMap((e) => contractErrors(doc, e, validate))).toEqual([]);
  });

  it('every documented operation was exercised, and every request header honoured', () => {
    const ops = Object.entries(doc.paths).flatMap(([, item]) => Object.entries(item));
    const seen = new Set(exchanges.map((e) => operationOf(doc, e.method, e.path)?.op.operationId));
    for (const [, op] of ops) expect(seen, op.operationId).toContain(op.operationId);
    const pairs = ops
      .filter(([method]) => method !== 'head')
      .flatMap(([, op]) =>
        parametersOf(doc, op)
          .filter((p) => p.in === 'header')
          .map((p) => `${op.operationId} ${p.name}`),
      )
      .filter((pair) => !pair.endsWith(' x-request-id'));
    expect(pairs.filter((p) => !honoured.has(p))).toEqual([]);
    // x-request-id is honoured on every exchange (contractErrors checks the echo).
  });

  it('every documented response header appears on a real answer', () => {
    const documented = new Set(
      Object.values(doc.paths).flatMap((item) =>
        Object.values(item).flatMap((op) =>
          Object.values(op.responses).flatMap((r) => Object.keys(r.headers ?? {})),
        ),
      ),
    );
    const seen = new Set(exchanges.flatMap((e) => Object.keys(e.headers)));
    expect([...documented].filter((h) => !seen.has(h))).toEqual([]);
  });

  it('lists every catalogue code the API can answer, under its own status', () => {
    const listed = new Set<string>();
    for (const item of Object.values(doc.paths)) {
      for (const op of Object.values(item)) {
        for (const [status, r] of Object.entries(op.responses)) {
          for (const code of documentedCodes(r)) {
            expect(ERRORS[code as keyof typeof ERRORS].status, code).toBe(Number(status));
            listed.add(code);
          }
        }
      }
    }
    expect(WORKER_ONLY.filter((c) => listed.has(c))).toEqual([]);
    expect(new Set([...listed, ...WORKER_ONLY, ...UNROUTED])).toEqual(new Set(Object.keys(ERRORS)));
    const emitted = exchanges.map((e) => (e.body as { code?: string } | undefined)?.code);
    for (const code of emitted) if (code) expect(listed).toContain(code);
  });
});
