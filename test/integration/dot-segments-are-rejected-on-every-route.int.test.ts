import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { buildRequest, rawRequest, type RawResponse } from '../helpers/raw-http.ts';
import { call, type Stack, startStack } from '../helpers/stack.ts';

/**
 * A `.` or `..` path segment, literal or percent-encoded in any case, is never resolved: a client
 * that sends one gets a 400, on every route and method, and nothing changes. Otherwise the WHATWG
 * URL parser behind Hono would resolve it into another key (or another route) while the request
 * target said something else. Requests are sent as raw bytes, since fetch would resolve the dots
 * before sending.
 */
let s: Stack;
let port: number;
beforeAll(async () => {
  s = await startStack();
  port = Number(new URL(s.url).port);
  for (const key of ['victim', 'dlq']) {
    const r = await call(s.url, 'PUT', `/v1/keys/${key}`, {
      body: { value: key },
      headers: { Prefer: 'wait=5' },
    });
    expect(r.status).toBe(201);
  }
});
afterAll(async () => {
  await s.stop();
});

const send = (method: string, target: string, body?: string) =>
  rawRequest(
    port,
    buildRequest(
      method,
      target,
      body === undefined ? [] : [['Content-Type', 'application/json']],
      body === undefined ? undefined : Buffer.from(body),
    ),
  );

function problem(r: RawResponse | null) {
  expect(r).not.toBeNull();
  expect(r!.headers['content-type']).toBe('application/problem+json');
  return { status: r!.status, ...(JSON.parse(r!.body.toString('utf8')) as { code: string }) };
}

async function liveKeys(): Promise<string[]> {
  const r = await call(s.url, 'GET', '/v1/keys?limit=1000');
  expect(r.status).toBe(200);
  return (r.body.items as { key: string }[]).map((i) => i.key);
}

const DOTS = ['..', '.', '%2e%2e', '%2E%2E', '%2e.', '.%2E', '%2e', '%2E'];

describe('on key routes a dot segment is 400 INVALID_KEY and changes nothing', () => {
  it.each(DOTS)('PUT, DELETE and GET /v1/keys/t/%s/victim', async (dot) => {
    const target = `/v1/keys/t/${dot}/victim`;
    for (const t of [target, `${target}?`, `http://127.0.0.1${target}`]) {
      expect(problem(await send('PUT', t, '{"value":"evil"}'))).toMatchObject({
        status: 400,
        code: 'INVALID_KEY',
      });
      expect(problem(await send('DELETE', t))).toMatchObject({ status: 400, code: 'INVALID_KEY' });
      expect(problem(await send('GET', t))).toMatchObject({ status: 400, code: 'INVALID_KEY' });
    }
    expect(await liveKeys()).toEqual(['dlq', 'victim']);
    const victim = await call(s.url, 'GET', '/v1/keys/victim');
    expect(victim.status).toBe(200);
    expect(victim.body.value).toBe('victim');
  });

  it('a dot segment at the end of the key is rejected too', async () => {
    for (const target of ['/v1/keys/a/..', '/v1/keys/a/%2E', '/v1/keys/..', '/v1/keys/%2e%2e']) {
      expect(problem(await send('PUT', target, '{"value":1}'))).toMatchObject({
        status: 400,
        code: 'INVALID_KEY',
      });
    }
    expect(await liveKeys()).toEqual(['dlq', 'victim']);
  });

  it('POST /v1/keys refuses a key with a dot segment, so every key it takes has a URL', async () => {
    for (const key of ['..', '.', 't/../victim', 'a/.', './a', 'a/./b']) {
      const r = await call(s.url, 'POST', '/v1/keys', { body: { key, value: 1 } });
      expect(r.status, key).toBe(400);
      expect(r.body.code, key).toBe('INVALID_KEY');
    }
    expect(await liveKeys()).toEqual(['dlq', 'victim']);
  });

  it('a key with dots that are not whole segments is an ordinary key on every method', async () => {
    for (const key of ['a.b', '...', '.hidden/x', 'x/..y', 'v%2E']) {
      const path = `/v1/keys/${encodeURIComponent(key)}`;
      const put = await call(s.url, 'PUT', path, {
        body: { value: key },
        headers: { Prefer: 'wait=5' },
      });
      expect(put.status, key).toBe(201);
      const get = await call(s.url, 'GET', path);
      expect(get.body.value, key).toBe(key);
      const del = await call(s.url, 'DELETE', path, { headers: { Prefer: 'wait=5' } });
      expect(del.status, key).toBe(204);
    }
    expect(await liveKeys()).toEqual(['dlq', 'victim']);
  });
});

it('"://" in a key or "/../" in a query is not taken for a URL or a dot segment', async () => {
  const target = '/v1/keys/u/http://h/x';
  const put = await send('PUT', target, '{"value":"u"}');
  expect(put?.status).toBe(202);
  const opId = put!.headers.location!.replace('/v1/ops/', '');
  // Through Hono (a query) after the write is applied, then on the fast lane.
  for (const t of [`${target}?after=${opId}`, target]) {
    const r = await send('GET', t);
    expect(r?.status, t).toBe(200);
    expect(JSON.parse(r!.body.toString('utf8'))).toMatchObject({ key: 'u/http://h/x', value: 'u' });
  }
  expect((await send('GET', '/v1/keys?prefix=http://h/../'))?.status).toBe(200);
  expect((await send('DELETE', target))?.status).toBe(202);
});

describe('a dot segment never reaches another route', () => {
  it('GET /v1/keys/%2e%2e/dlq is not the dead-letter listing', async () => {
    for (const target of ['/v1/keys/%2e%2e/dlq', '/v1/keys/%2E%2E/dlq?', '/v1/keys/../dlq']) {
      expect(problem(await send('GET', target))).toMatchObject({
        status: 400,
        code: 'INVALID_KEY',
      });
    }
  });

  it.each([
    ['GET', '/v1/dlq/%2e%2e/keys/victim'],
    ['DELETE', '/v1/ops/x/%2e%2e/%2e%2e/keys/victim'],
    ['GET', '/v1/%2e%2e/healthz'],
    ['GET', '/nope/../healthz'],
    ['GET', '/v1/dlq/./'],
    ['POST', '/v1/dlq/x/%2E%2e/retry'],
  ])('%s %s is a 400 BAD_REQUEST', async (method, target) => {
    expect(problem(await send(method, target))).toMatchObject({ status: 400, code: 'BAD_REQUEST' });
    const victim = await call(s.url, 'GET', '/v1/keys/victim');
    expect(victim.status).toBe(200);
  });
});
