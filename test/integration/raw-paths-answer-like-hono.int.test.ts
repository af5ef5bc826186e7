import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { type ApiDeps, createAuthenticator, createRawPaths } from '../../src/api/index.ts';
import { createLogger } from '../../src/core/index.ts';
import { createRecordStore } from '../../src/store/index.ts';
import { rawRequest, type RawResponse } from '../helpers/raw-http.ts';
import { call, type Stack, startStack } from '../helpers/stack.ts';

/**
 * `GET` and `PUT /v1/keys/{key}` are served by raw node:http paths (src/api/raw-paths.ts) when
 * the request is plain, and by Hono otherwise. A trailing "?" (an empty query) sends the very same
 * request to Hono, so each case is asked both ways and the answers must match.
 */
const TOKEN = 'tok-123';
let s: Stack;
let port: number;
beforeAll(async () => {
  s = await startStack({ env: { API_TOKENS: TOKEN, MAX_VALUE_BYTES: '64' } });
  port = Number(new URL(s.url).port);
  const auth = { Authorization: `Bearer ${TOKEN}` };
  for (const [key, value] of [
    ['plain', { a: 1 }],
    ['dir/x y', 'spaced'],
    ['é', [1, 2]],
  ] as const) {
    const r = await call(s.url, 'PUT', `/v1/keys/${encodeURIComponent(key)}`, {
      body: { value },
      headers: { ...auth, Prefer: 'wait=10' },
    });
    expect(r.status).toBe(201);
  }
});
afterAll(async () => {
  await s.stop();
});

function request(
  method: string,
  target: string,
  headers: Record<string, string>,
  body?: string,
): Buffer {
  const lines = [`${method} ${target} HTTP/1.1`, 'Host: 127.0.0.1', 'Connection: close'];
  for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
  if (body !== undefined) lines.push(`Content-Length: ${String(Buffer.byteLength(body))}`);
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n${body ?? ''}`);
}

/** Status, headers but Date, and the body with per-op fields (id, version, times) blanked. */
function comparable(r: RawResponse | null) {
  expect(r).not.toBeNull();
  const headers = { ...r!.headers };
  delete headers.date;
  if (headers.location?.startsWith('/v1/ops/')) headers.location = '/v1/ops/…';
  // Two writes to one key get two versions: compare the ETag's shape, not its number.
  if (headers.etag !== undefined && r!.status !== 304)
    headers.etag = headers.etag.replace(/\d+/, 'N');
  const body = r!.body
    .toString('utf8')
    .replace(/"(id|acceptedAt|appliedAt|createdAt|updatedAt|decidedAt)":"[^"]*"/g, '"$1":"…"')
    .replace(/"version":\d+/g, '"version":0');
  return { status: r!.status, headers, body };
}

const auth = { Authorization: `Bearer ${TOKEN}`, 'X-Request-Id': 'req-1' };
const json = { ...auth, 'Content-Type': 'application/json' };

describe('the raw GET path answers exactly like the Hono route', () => {
  const cases: [string, string, Record<string, string>, number][] = [
    ['a record', '/v1/keys/plain', auth, 200],
    ['a percent-encoded key with "/"', '/v1/keys/dir%2Fx%20y', auth, 200],
    ['a UTF-8 key', '/v1/keys/%C3%A9', auth, 200],
    [
      'If-None-Match on the current ETag',
      '/v1/keys/plain',
      { ...auth, 'If-None-Match': '"1"' },
      304,
    ],
    ['If-None-Match on an old ETag', '/v1/keys/plain', { ...auth, 'If-None-Match': '"0"' }, 200],
    ['a missing key', '/v1/keys/nope', auth, 404],
    ['no token', '/v1/keys/plain', { 'X-Request-Id': 'req-1' }, 401],
    ['a wrong token', '/v1/keys/plain', { ...auth, Authorization: 'Bearer nope' }, 401],
    ['an invalid key', '/v1/keys/%FF', auth, 400],
  ];
  it.each(cases)('%s', async (_name, target, headers, status) => {
    const raw = comparable(await rawRequest(port, request('GET', target, headers)));
    const viaHono = comparable(await rawRequest(port, request('GET', `${target}?`, headers)));
    expect(raw.status).toBe(status);
    expect(raw).toEqual(viaHono);
    expect(raw.headers['x-request-id']).toBe('req-1');
  });

  it('generates a request id when the client sends none or an unusable one', async () => {
    const headerSets: Record<string, string>[] = [{}, { 'X-Request-Id': 'not ok!' }];
    for (const headers of headerSets) {
      const r = comparable(
        await rawRequest(
          port,
          request('GET', '/v1/keys/nope', { Authorization: `Bearer ${TOKEN}`, ...headers }),
        ),
      );
      expect(r.status).toBe(404);
      expect(r.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
      expect(JSON.parse(r.body)).toMatchObject({ requestId: r.headers['x-request-id'] });
    }
  });
});

describe('the raw PUT path answers exactly like the Hono route', () => {
  // Keys with nothing pending, where a condition or a wait must be decided the same way twice.
  const settled = '/v1/keys/dir%2Fx%20y';
  const cases: [string, Record<string, string>, string, number, string?][] = [
    ['a plain put', json, '{"value":{"n":1}}', 202],
    ['a put with a TTL', json, '{"value":1,"ttlSeconds":60}', 202],
    ['a JSON body with a BOM', json, '\uFEFF{"value":2}', 202],
    [
      'a content type with charset',
      { ...json, 'Content-Type': 'application/json; charset=utf-8' },
      '{"value":3}',
      202,
    ],
    ['malformed JSON', json, '{"value":', 400],
    ['an unknown field', json, '{"value":1,"extra":true}', 400],
    ['no value', json, '{}', 400],
    ['a bad TTL', json, '{"value":1,"ttlSeconds":-1}', 400],
    ['JSON nested too deep', json, `{"value":${'['.repeat(200)}${']'.repeat(200)}}`, 400],
    ['a value over MAX_VALUE_BYTES', json, `{"value":"${'x'.repeat(100)}"}`, 413],
    ['If-Match on the current version', { ...json, 'If-Match': '*' }, '{"value":4}', 202],
    [
      'If-None-Match: * on a live key',
      { ...json, 'If-None-Match': '*' },
      '{"value":5}',
      412,
      settled,
    ],
    ['Prefer: wait', { ...json, Prefer: 'wait=5' }, '{"value":6}', 200, '/v1/keys/%C3%A9'],
    ['an invalid If-Match', { ...json, 'If-Match': 'nope' }, '{"value":7}', 400],
    ['text/plain', { ...json, 'Content-Type': 'text/plain' }, '{"value":8}', 415],
    [
      'no token',
      { 'Content-Type': 'application/json', 'X-Request-Id': 'req-1' },
      '{"value":9}',
      401,
    ],
  ];
  it.each(cases)('%s', async (_name, headers, body, status, target = '/v1/keys/plain') => {
    const raw = comparable(await rawRequest(port, request('PUT', target, headers, body)));
    const viaHono = comparable(await rawRequest(port, request('PUT', `${target}?`, headers, body)));
    expect(raw.status).toBe(status);
    expect(raw).toEqual(viaHono);
    expect(raw.headers['x-request-id']).toBe('req-1');
  });

  it('an Idempotency-Key repeat answers with the original op on both paths', async () => {
    const h = { ...json, 'Idempotency-Key': 'raw-idem-1' };
    const first = await rawRequest(port, request('PUT', '/v1/keys/idem', h, '{"value":1}'));
    const again = await rawRequest(port, request('PUT', '/v1/keys/idem?', h, '{"value":1}'));
    const other = await rawRequest(port, request('PUT', '/v1/keys/idem', h, '{"value":2}'));
    expect(first?.status).toBe(202);
    expect(again?.status).toBe(202);
    expect(JSON.parse(again!.body.toString()).op.id).toBe(JSON.parse(first!.body.toString()).op.id);
    expect(other?.status).toBe(422);
  });
});

describe('which requests the raw paths take', () => {
  let server: Server;
  let rawPort: number;
  beforeAll(async () => {
    const records = createRecordStore({
      redis: s.kvRedis,
      layout: s.layout,
      fenceWindowMs: 60_000,
    });
    const unused = () => {
      throw new Error('not reached by a request these tests send');
    };
    // Reads need only the record store; the writes sent here fail validation before the ledger.
    const deps = {
      records,
      limits: { maxKeyBytes: 16, maxValueBytes: 1024 },
      auth: createAuthenticator({ legacyTokens: [TOKEN], cacheMs: 0 }),
      logger: createLogger('silent', 'test'),
      isShuttingDown: () => false,
      get ledger() {
        return unused();
      },
      enqueue: unused,
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

  const a = `Authorization: Bearer ${TOKEN}`;
  const h = 'Host: 127.0.0.1';
  const send = async (head: string, body = '') => {
    const r = await rawRequest(rawPort, Buffer.from(`${head}\r\nConnection: close\r\n\r\n${body}`));
    return r?.status;
  };
  const put = (target: string, extra = '', body = '[') =>
    `PUT ${target} HTTP/1.1\r\n${h}\r\n${a}\r\nContent-Type: application/json\r\n` +
    `Content-Length: ${String(body.length)}${extra}`;

  it('takes plain GETs of a key, found or not, and plain PUTs', async () => {
    expect(await send(`GET /v1/keys/plain HTTP/1.1\r\n${h}\r\n${a}`)).toBe(200);
    expect(await send(`GET /v1/keys/dir%2Fx%20y HTTP/1.1\r\nHost: localhost:80\r\n${a}`)).toBe(200);
    expect(await send(`GET /v1/keys/nope HTTP/1.1\r\n${h}\r\n${a}`)).toBe(404);
    // The scheme is case-insensitive (RFC 9110) here as in Hono: one authorizer for both.
    expect(
      await send(`GET /v1/keys/plain HTTP/1.1\r\n${h}\r\nAuthorization: bearer ${TOKEN}`),
    ).toBe(200);
    // Malformed JSON is answered by the raw path (400), not passed on (418).
    expect(await send(put('/v1/keys/plain'), '[')).toBe(400);
  });

  it.each([
    ['HEAD', `HEAD /v1/keys/plain HTTP/1.1\r\n${h}\r\n${a}`],
    ['DELETE', `DELETE /v1/keys/plain HTTP/1.1\r\n${h}\r\n${a}`],
    ['a query string', `GET /v1/keys/plain?after=x HTTP/1.1\r\n${h}\r\n${a}`],
    ['an empty query', `GET /v1/keys/plain? HTTP/1.1\r\n${h}\r\n${a}`],
    ['dot segments', `GET /v1/keys/a/../plain HTTP/1.1\r\n${h}\r\n${a}`],
    ['a backslash', `GET /v1/keys/a\\b HTTP/1.1\r\n${h}\r\n${a}`],
    ['no key', `GET /v1/keys/ HTTP/1.1\r\n${h}\r\n${a}`],
    ['an invalid key', `GET /v1/keys/%FF HTTP/1.1\r\n${h}\r\n${a}`],
    ['a key over the limit', `GET /v1/keys/${'k'.repeat(17)} HTTP/1.1\r\n${h}\r\n${a}`],
    ['an absolute URL', `GET http://127.0.0.1/v1/keys/plain HTTP/1.1\r\n${h}\r\n${a}`],
    ['an unusual Host', `GET /v1/keys/plain HTTP/1.1\r\nHost: Ex@mple\r\n${a}`],
    ['no token', `GET /v1/keys/plain HTTP/1.1\r\n${h}`],
    ['a wrong token', `GET /v1/keys/plain HTTP/1.1\r\n${h}\r\nAuthorization: Bearer x`],
    ['two Authorization lines', `GET /v1/keys/plain HTTP/1.1\r\n${h}\r\n${a}\r\n${a}`],
    [
      'a PUT without Content-Type',
      `PUT /v1/keys/plain HTTP/1.1\r\n${h}\r\n${a}\r\nContent-Length: 1`,
    ],
    ['a PUT of text/plain', put('/v1/keys/plain').replace('application/json', 'text/plain')],
    [
      'a chunked PUT',
      `PUT /v1/keys/plain HTTP/1.1\r\n${h}\r\n${a}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked`,
    ],
    ['an empty PUT', put('/v1/keys/plain', '', '')],
    [
      'a PUT over the body limit',
      put('/v1/keys/plain').replace(/Content-Length: \d+/, 'Content-Length: 99999999'),
    ],
    ['a PUT with an invalid If-Match', put('/v1/keys/plain', '\r\nIf-Match: nope')],
    [
      'a PUT with an invalid Idempotency-Key',
      put('/v1/keys/plain', `\r\nIdempotency-Key: ${'x'.repeat(300)}`),
    ],
    ['a PUT to an invalid key', put('/v1/keys/%FF')],
  ])('leaves %s to Hono', async (_name, head) => {
    expect(await send(head)).toBe(418);
  });
});
