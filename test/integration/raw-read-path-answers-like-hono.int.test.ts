import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createReadPath } from '../../src/api/index.ts';
import { createLogger } from '../../src/core/index.ts';
import { createRecordStore } from '../../src/store/index.ts';
import { rawRequest, type RawResponse } from '../helpers/raw-http.ts';
import { call, type Stack, startStack } from '../helpers/stack.ts';

/**
 * `GET /v1/keys/{key}` is served by a raw node:http path (src/api/read-path.ts) when the request
 * is plain, and by Hono otherwise. A trailing "?" (an empty query) sends the very same read to
 * Hono, so each case is asked both ways and the answers must be identical but for the Date.
 */
const TOKEN = 'tok-123';
let s: Stack;
let port: number;
beforeAll(async () => {
  s = await startStack({ env: { API_TOKENS: TOKEN } });
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

function request(target: string, headers: Record<string, string>): Buffer {
  const lines = [`GET ${target} HTTP/1.1`, 'Host: 127.0.0.1', 'Connection: close'];
  for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n`);
}

function comparable(r: RawResponse | null) {
  expect(r).not.toBeNull();
  const headers = { ...r!.headers };
  delete headers.date;
  return { status: r!.status, headers, body: r!.body.toString('utf8') };
}

describe('the raw read path answers exactly like the Hono route', () => {
  const auth = { Authorization: `Bearer ${TOKEN}`, 'X-Request-Id': 'req-1' };
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
    const raw = comparable(await rawRequest(port, request(target, headers)));
    const viaHono = comparable(await rawRequest(port, request(`${target}?`, headers)));
    expect(raw.status).toBe(status);
    expect(raw).toEqual(viaHono);
    if (status === 200) expect(raw.headers['x-request-id']).toBe('req-1');
  });

  it('generates a request id when the client sends none or an unusable one', async () => {
    for (const headers of [{}, { 'X-Request-Id': 'not ok!' }]) {
      const r = comparable(
        await rawRequest(
          port,
          request('/v1/keys/nope', { Authorization: `Bearer ${TOKEN}`, ...headers }),
        ),
      );
      expect(r.status).toBe(404);
      expect(r.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
      expect(JSON.parse(r.body)).toMatchObject({ requestId: r.headers['x-request-id'] });
    }
  });
});

describe('which requests the raw read path takes', () => {
  let server: Server;
  let rawPort: number;
  beforeAll(async () => {
    const records = createRecordStore({
      redis: s.kvRedis,
      prefix: s.config.KEY_PREFIX,
      fenceWindowMs: 60_000,
    });
    const readPath = createReadPath({
      records,
      limits: { maxKeyBytes: 16, maxValueBytes: 1024 },
      apiTokens: [TOKEN],
      logger: createLogger('silent', 'test'),
    });
    server = createServer((req, res) => {
      if (readPath(req, res)) return;
      res.writeHead(418, { 'Content-Length': '8' });
      res.end('fallback');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    rawPort = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise((r) => server.close(r));
  });

  const auth = `Authorization: Bearer ${TOKEN}`;
  const send = async (head: string) => {
    const r = await rawRequest(rawPort, Buffer.from(`${head}\r\nConnection: close\r\n\r\n`));
    return r?.status;
  };

  it('takes plain GETs of a key, found or not', async () => {
    expect(await send(`GET /v1/keys/plain HTTP/1.1\r\nHost: 127.0.0.1\r\n${auth}`)).toBe(200);
    expect(await send(`GET /v1/keys/dir%2Fx%20y HTTP/1.1\r\nHost: localhost:80\r\n${auth}`)).toBe(
      200,
    );
    expect(await send(`GET /v1/keys/nope HTTP/1.1\r\nHost: 127.0.0.1\r\n${auth}`)).toBe(404);
  });

  it.each([
    ['HEAD', `HEAD /v1/keys/plain HTTP/1.1\r\nHost: 127.0.0.1\r\n${auth}`],
    ['a query string', `GET /v1/keys/plain?after=x HTTP/1.1\r\nHost: 127.0.0.1\r\n${auth}`],
    ['an empty query', `GET /v1/keys/plain? HTTP/1.1\r\nHost: 127.0.0.1\r\n${auth}`],
    ['dot segments', `GET /v1/keys/a/../plain HTTP/1.1\r\nHost: 127.0.0.1\r\n${auth}`],
    ['a backslash', `GET /v1/keys/a\\b HTTP/1.1\r\nHost: 127.0.0.1\r\n${auth}`],
    ['no key', `GET /v1/keys/ HTTP/1.1\r\nHost: 127.0.0.1\r\n${auth}`],
    ['an invalid key', `GET /v1/keys/%FF HTTP/1.1\r\nHost: 127.0.0.1\r\n${auth}`],
    [
      'a key over the limit',
      `GET /v1/keys/${'k'.repeat(17)} HTTP/1.1\r\nHost: 127.0.0.1\r\n${auth}`,
    ],
    [
      'an absolute URL',
      `GET http://127.0.0.1/v1/keys/plain HTTP/1.1\r\nHost: 127.0.0.1\r\n${auth}`,
    ],
    ['an unusual Host', `GET /v1/keys/plain HTTP/1.1\r\nHost: Ex@mple\r\n${auth}`],
    ['no token', 'GET /v1/keys/plain HTTP/1.1\r\nHost: 127.0.0.1'],
    ['a wrong token', 'GET /v1/keys/plain HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer x'],
    [
      'a token with a different scheme case',
      `GET /v1/keys/plain HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: bearer ${TOKEN}`,
    ],
  ])('leaves %s to Hono', async (_name, head) => {
    expect(await send(head)).toBe(418);
  });
});
