import { afterAll, beforeAll, expect, it } from 'vitest';

import { call, type Stack, startStack } from '../helpers/stack.ts';

let s: Stack;
beforeAll(async () => {
  s = await startStack({ env: { API_TOKENS: 'alpha-token, beta-token' } });
});
afterAll(async () => {
  await s.stop();
});

it('with API_TOKENS set, /v1 needs a bearer token; probes and docs stay open', async () => {
  const none = await call(s.url, 'PUT', '/v1/keys/a', { body: { value: 1 } });
  expect(none.status).toBe(401);
  expect(none.headers.get('content-type')).toBe('application/problem+json');
  expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
  expect(none.body.code).toBe('UNAUTHORIZED');
  const wrong = await call(s.url, 'GET', '/v1/keys/a', {
    headers: { Authorization: 'Bearer nope' },
  });
  expect(wrong.status).toBe(401);
  const ok = await call(s.url, 'PUT', '/v1/keys/a', {
    body: { value: 1 },
    headers: { Authorization: 'Bearer beta-token', Prefer: 'wait=5' },
  });
  expect(ok.status).toBe(201);
  expect(
    (await call(s.url, 'GET', '/v1/keys/a', { headers: { Authorization: 'Bearer alpha-token' } }))
      .status,
  ).toBe(200);
  expect((await call(s.url, 'GET', '/healthz')).status).toBe(200);
  expect((await call(s.url, 'GET', '/readyz')).status).toBe(200);
  expect((await call(s.url, 'GET', '/openapi.json')).status).toBe(200);
});
