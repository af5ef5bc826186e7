import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { call, type Stack, startStack } from '../helpers/stack.ts';

let s: Stack;
beforeAll(async () => {
  s = await startStack({ env: { MAX_KEY_BYTES: '64', MAX_VALUE_BYTES: '1024' } });
  await call(s.url, 'PUT', '/v1/keys/sentinel', {
    body: { value: 'keep' },
    headers: { Prefer: 'wait=5' },
  });
});
afterAll(async () => {
  await s.stop();
});

interface Case {
  name: string;
  method: string;
  path: string;
  body?: unknown;
  rawBody?: string;
  headers?: Record<string, string>;
  status: number;
  code: string;
  header?: [string, string];
}

const cases: Case[] = [
  {
    name: 'malformed JSON',
    method: 'PUT',
    path: '/v1/keys/sentinel',
    rawBody: '{"value":',
    headers: { 'Content-Type': 'application/json' },
    status: 400,
    code: 'MALFORMED_JSON',
  },
  {
    name: 'empty body',
    method: 'PUT',
    path: '/v1/keys/sentinel',
    rawBody: '',
    headers: { 'Content-Type': 'application/json' },
    status: 400,
    code: 'MALFORMED_JSON',
  },
  {
    name: 'missing value',
    method: 'PUT',
    path: '/v1/keys/sentinel',
    body: { ttlSeconds: 5 },
    status: 400,
    code: 'VALIDATION_FAILED',
  },
  {
    name: 'unknown field',
    method: 'PUT',
    path: '/v1/keys/sentinel',
    body: { value: 1, extra: true },
    status: 400,
    code: 'VALIDATION_FAILED',
  },
  {
    name: 'ttl not an int',
    method: 'PUT',
    path: '/v1/keys/sentinel',
    body: { value: 1, ttlSeconds: 1.5 },
    status: 400,
    code: 'VALIDATION_FAILED',
  },
  {
    name: 'ttl zero',
    method: 'PUT',
    path: '/v1/keys/sentinel',
    body: { value: 1, ttlSeconds: 0 },
    status: 400,
    code: 'VALIDATION_FAILED',
  },
  {
    name: 'body is an array',
    method: 'PUT',
    path: '/v1/keys/sentinel',
    body: [1],
    status: 400,
    code: 'VALIDATION_FAILED',
  },
  {
    name: 'too deeply nested',
    method: 'PUT',
    path: '/v1/keys/sentinel',
    rawBody: `{"value":${'['.repeat(200)}${']'.repeat(200)}}`,
    headers: { 'Content-Type': 'application/json' },
    status: 400,
    code: 'VALIDATION_FAILED',
  },
  {
    name: 'control character in key',
    method: 'PUT',
    path: '/v1/keys/a%00b',
    body: { value: 1 },
    status: 400,
    code: 'INVALID_KEY',
  },
  {
    name: 'invalid UTF-8 in key',
    method: 'GET',
    path: '/v1/keys/%FF%FE',
    status: 400,
    code: 'INVALID_KEY',
  },
  {
    name: 'lone surrogate in key',
    method: 'GET',
    path: '/v1/keys/%ED%A0%80',
    status: 400,
    code: 'INVALID_KEY',
  },
  {
    name: 'key over MAX_KEY_BYTES',
    method: 'GET',
    path: `/v1/keys/${'k'.repeat(65)}`,
    status: 414,
    code: 'KEY_TOO_LONG',
  },
  {
    name: 'POST key over MAX_KEY_BYTES',
    method: 'POST',
    path: '/v1/keys',
    body: { key: 'k'.repeat(65), value: 1 },
    status: 400,
    code: 'VALIDATION_FAILED',
  },
  {
    name: 'POST empty key',
    method: 'POST',
    path: '/v1/keys',
    body: { key: '', value: 1 },
    status: 400,
    code: 'VALIDATION_FAILED',
  },
  {
    name: 'text/plain body',
    method: 'PUT',
    path: '/v1/keys/sentinel',
    rawBody: '{"value":1}',
    headers: { 'Content-Type': 'text/plain' },
    status: 415,
    code: 'UNSUPPORTED_MEDIA_TYPE',
  },
  {
    name: 'no content type',
    method: 'POST',
    path: '/v1/keys',
    rawBody: '{"key":"a","value":1}',
    status: 415,
    code: 'UNSUPPORTED_MEDIA_TYPE',
  },
  {
    name: 'value over MAX_VALUE_BYTES',
    method: 'PUT',
    path: '/v1/keys/sentinel',
    body: { value: 'x'.repeat(1100) },
    status: 413,
    code: 'VALUE_TOO_LARGE',
  },
  {
    name: 'body over the limit',
    method: 'PUT',
    path: '/v1/keys/sentinel',
    body: { value: 'x'.repeat(20_000) },
    status: 413,
    code: 'PAYLOAD_TOO_LARGE',
  },
  {
    name: 'unknown route',
    method: 'GET',
    path: '/v2/nothing',
    status: 404,
    code: 'ROUTE_NOT_FOUND',
  },
  {
    name: 'wrong method on a key',
    method: 'PATCH',
    path: '/v1/keys/sentinel',
    body: { value: 1 },
    status: 405,
    code: 'METHOD_NOT_ALLOWED',
    header: ['allow', 'GET, HEAD, PUT, DELETE'],
  },
  {
    name: 'wrong method on the collection',
    method: 'DELETE',
    path: '/v1/keys',
    status: 405,
    code: 'METHOD_NOT_ALLOWED',
    header: ['allow', 'GET, HEAD, POST'],
  },
  {
    name: 'wrong method on an op',
    method: 'PUT',
    path: '/v1/ops/abc',
    status: 405,
    code: 'METHOD_NOT_ALLOWED',
    header: ['allow', 'GET, HEAD'],
  },
  {
    name: 'bogus If-Match',
    method: 'PUT',
    path: '/v1/keys/sentinel',
    body: { value: 1 },
    headers: { 'If-Match': 'v1' },
    status: 400,
    code: 'INVALID_HEADER',
  },
  {
    name: 'both If-Match and If-None-Match',
    method: 'PUT',
    path: '/v1/keys/sentinel',
    body: { value: 1 },
    headers: { 'If-Match': '*', 'If-None-Match': '*' },
    status: 400,
    code: 'INVALID_HEADER',
  },
  {
    name: 'If-None-Match with an ETag on a write',
    method: 'PUT',
    path: '/v1/keys/sentinel',
    body: { value: 1 },
    headers: { 'If-None-Match': '"1"' },
    status: 400,
    code: 'INVALID_HEADER',
  },
  {
    name: 'If-None-Match on DELETE',
    method: 'DELETE',
    path: '/v1/keys/sentinel',
    headers: { 'If-None-Match': '*' },
    status: 400,
    code: 'INVALID_HEADER',
  },
  {
    name: 'list limit 0',
    method: 'GET',
    path: '/v1/keys?limit=0',
    status: 400,
    code: 'VALIDATION_FAILED',
  },
  {
    name: 'list limit 1001',
    method: 'GET',
    path: '/v1/keys?limit=1001',
    status: 400,
    code: 'VALIDATION_FAILED',
  },
  {
    name: 'list limit not a number',
    method: 'GET',
    path: '/v1/keys?limit=ten',
    status: 400,
    code: 'VALIDATION_FAILED',
  },
  {
    name: 'bad cursor',
    method: 'GET',
    path: '/v1/keys?cursor=***',
    status: 400,
    code: 'INVALID_CURSOR',
  },
  {
    name: 'unknown op',
    method: 'GET',
    path: '/v1/ops/no-such-op',
    status: 404,
    code: 'OP_NOT_FOUND',
  },
];

describe('every bad request gets problem+json and changes nothing', () => {
  it.each(cases)('$name → $status $code', async (c) => {
    const init: { body?: unknown; rawBody?: string; headers?: Record<string, string> } = {};
    if (c.body !== undefined) init.body = c.body;
    if (c.rawBody !== undefined) init.rawBody = c.rawBody;
    if (c.headers) init.headers = c.headers;
    const r = await call(s.url, c.method, c.path, init);
    expect(r.status).toBe(c.status);
    expect(r.headers.get('content-type')).toBe('application/problem+json');
    expect(r.body).toMatchObject({ status: c.status, code: c.code });
    expect(r.body.type).toMatch(/^https:\/\//);
    expect(r.body.title).toBeTypeOf('string');
    expect(r.body.detail).toBeTypeOf('string');
    expect(r.body.requestId).toBe(r.headers.get('x-request-id'));
    if (c.code === 'VALIDATION_FAILED') expect(r.body.errors.length).toBeGreaterThan(0);
    if (c.header) expect(r.headers.get(c.header[0])).toBe(c.header[1]);
  });

  it('checks Content-Length before reading a huge body', async () => {
    const res = await fetch(`${s.url}/v1/keys/sentinel`, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/json' },
      body: new ReadableStream({
        start(ctl) {
          // A streamed (chunked) body: counted as it arrives, refused past the limit.
          for (let i = 0; i < 64; i++) ctl.enqueue(new TextEncoder().encode('x'.repeat(1024)));
          ctl.close();
        },
      }),
      duplex: 'half',
    });
    expect(res.status).toBe(413);
    expect(((await res.json()) as { code: string }).code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('left the sentinel key untouched', async () => {
    const g = await call(s.url, 'GET', '/v1/keys/sentinel', { headers: { Prefer: 'wait=1' } });
    expect(g.body).toMatchObject({ value: 'keep', version: 1 });
  });
});
