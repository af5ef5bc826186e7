import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { buildRequest, rawRequest, type RawResponse } from '../helpers/raw-http.ts';
import { call, type Stack, startStack } from '../helpers/stack.ts';

/**
 * A request with more than one Authorization field line is refused with 400 INVALID_HEADER on
 * every path, whichever line carries a valid token: which of two credentials counts is not a
 * question for the server to guess. A trailing "?" sends a plain GET or PUT through Hono instead
 * of the raw fast lane, so each case is asked both ways.
 */
const TOKEN = 'tok-123';
const GOOD = `Bearer ${TOKEN}`;
let s: Stack;
let port: number;
beforeAll(async () => {
  s = await startStack({ env: { API_TOKENS: `${TOKEN},other-token` } });
  port = Number(new URL(s.url).port);
  const r = await call(s.url, 'PUT', '/v1/keys/plain', {
    body: { value: 'kept' },
    headers: { Authorization: GOOD, Prefer: 'wait=5' },
  });
  expect(r.status).toBe(201);
});
afterAll(async () => {
  await s.stop();
});

const send = (method: string, target: string, auth: string[], body?: string) => {
  const headers: [string, string][] = auth.map((a) => ['Authorization', a]);
  if (body !== undefined) headers.push(['Content-Type', 'application/json']);
  return rawRequest(
    port,
    buildRequest(method, target, headers, body === undefined ? undefined : Buffer.from(body)),
  );
};

function problem(r: RawResponse | null) {
  expect(r).not.toBeNull();
  expect(r!.headers['content-type']).toBe('application/problem+json');
  const body = JSON.parse(r!.body.toString('utf8')) as { code: string; status: number };
  expect(body.status).toBe(r!.status);
  return { status: r!.status, code: body.code, challenge: r!.headers['www-authenticate'] };
}

const PAIRS = [
  ['the same valid token twice', [GOOD, GOOD]],
  ['a valid token, then a wrong one', [GOOD, 'Bearer nope']],
  ['a wrong token, then a valid one', ['Bearer nope', GOOD]],
  ['two different valid tokens', [GOOD, 'Bearer other-token']],
  ['a valid token, then an empty line', [GOOD, '']],
] as const;

describe('two Authorization lines are 400 INVALID_HEADER', () => {
  it.each(PAIRS)('GET and PUT on the fast lane and through Hono: %s', async (_name, auth) => {
    for (const target of ['/v1/keys/plain', '/v1/keys/plain?']) {
      expect(problem(await send('GET', target, [...auth]))).toMatchObject({
        status: 400,
        code: 'INVALID_HEADER',
      });
      expect(problem(await send('PUT', target, [...auth], '{"value":"evil"}'))).toMatchObject({
        status: 400,
        code: 'INVALID_HEADER',
      });
    }
  });

  it.each(PAIRS)('every other /v1 route: %s', async (_name, auth) => {
    for (const [method, target, body] of [
      ['DELETE', '/v1/keys/plain', undefined],
      ['POST', '/v1/keys', '{"key":"new","value":1}'],
      ['GET', '/v1/keys', undefined],
      ['GET', '/v1/dlq', undefined],
      ['GET', '/v1/ops/x', undefined],
    ] as const) {
      expect(problem(await send(method, target, [...auth], body))).toMatchObject({
        status: 400,
        code: 'INVALID_HEADER',
      });
    }
  });

  it('nothing was written or deleted', async () => {
    const r = await call(s.url, 'GET', '/v1/keys', { headers: { Authorization: GOOD } });
    expect(r.body.items.map((i: { key: string }) => i.key)).toEqual(['plain']);
    const plain = await call(s.url, 'GET', '/v1/keys/plain', { headers: { Authorization: GOOD } });
    expect(plain.body.value).toBe('kept');
  });
});

describe('one Authorization line is answered as before, alike on both paths', () => {
  it.each([
    ['no Authorization', [], 401, 'Bearer realm="kvq"'],
    ['a wrong token', ['Bearer nope'], 401, 'Bearer realm="kvq", error="invalid_token"'],
    [
      'not a bearer token',
      ['Basic dXNlcjpwYXNz'],
      401,
      'Bearer realm="kvq", error="invalid_request"',
    ],
    ['a token with a space', ['Bearer a b'], 401, 'Bearer realm="kvq", error="invalid_request"'],
  ] as const)('%s', async (_name, auth, status, challenge) => {
    for (const target of ['/v1/keys/plain', '/v1/keys/plain?']) {
      expect(problem(await send('GET', target, [...auth]))).toEqual({
        status,
        code: 'UNAUTHORIZED',
        challenge,
      });
    }
  });

  it('a valid token, with the scheme in any case, reads on both paths', async () => {
    for (const auth of [GOOD, `bearer ${TOKEN}`, 'BEARER other-token']) {
      for (const target of ['/v1/keys/plain', '/v1/keys/plain?']) {
        const r = await send('GET', target, [auth]);
        expect(r?.status).toBe(200);
      }
    }
  });

  it('probes stay open whatever Authorization says', async () => {
    expect((await send('GET', '/healthz', [GOOD, GOOD]))?.status).toBe(200);
    expect((await send('GET', '/readyz', []))?.status).toBe(200);
  });
});
