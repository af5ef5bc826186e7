import { afterAll, beforeAll, expect, it } from 'vitest';

import { call, type Stack, startStack } from '../helpers/stack.ts';

/**
 * A conditional write refused without an op (409 / 412 / 404) under an Idempotency-Key is
 * answered the same to every later attempt of that request, even once the key's state would let
 * it through. A client that gave up on an attempt (a timeout) and retried takes the retry's
 * refusal as the outcome; the attempt it gave up on may still be running in an API (held up by a
 * failing Redis) and must not be accepted after that answer. (The failover chaos run found such
 * creates and deletes taking effect after their retries were refused.) From the API's side that
 * late attempt is the same request arriving after the refusal, which these tests send.
 */
let s: Stack;
beforeAll(async () => {
  s = await startStack();
});
afterAll(async () => {
  await s.stop();
});

const waited = { Prefer: 'wait=10' };

it('a create refused with KEY_EXISTS stays refused after the key is deleted', async () => {
  const key = 'refused/create';
  expect(
    (await call(s.url, 'POST', '/v1/keys', { body: { key, value: 1 }, headers: waited })).status,
  ).toBe(201);
  const ik = { 'Idempotency-Key': 'refused-create-1' };
  const first = await call(s.url, 'POST', '/v1/keys', { body: { key, value: 2 }, headers: ik });
  expect(first.status).toBe(409);
  expect(first.body).toMatchObject({ code: 'KEY_EXISTS', decidedAfterVersion: 1 });
  expect(
    (await call(s.url, 'DELETE', `/v1/keys/${key}`, { headers: { 'If-Match': '"1"' } })).status,
  ).toBe(202);
  await expect.poll(async () => (await call(s.url, 'GET', `/v1/keys/${key}`)).status).toBe(404);

  // The same request again (a late attempt): the refusal it was answered with, nothing written.
  const again = await call(s.url, 'POST', '/v1/keys', { body: { key, value: 2 }, headers: ik });
  expect(again.status).toBe(409);
  expect(again.body).toMatchObject({
    code: 'KEY_EXISTS',
    decidedAfterVersion: 1,
    decidedAt: first.body.decidedAt,
  });
  expect((await call(s.url, 'GET', `/v1/keys/${key}`)).status).toBe(404);

  // Without an Idempotency-Key the same create is a new request, decided now: it succeeds.
  const fresh = await call(s.url, 'POST', '/v1/keys', { body: { key, value: 3 }, headers: waited });
  expect(fresh.status).toBe(201);
  expect(fresh.body.version).toBe(3);
});

it('a put refused with PRECONDITION_FAILED stays refused once the key reaches the version it named', async () => {
  const key = 'refused/if-match';
  const ik = { 'Idempotency-Key': 'refused-if-match-1', 'If-Match': '"2"' };
  await call(s.url, 'PUT', `/v1/keys/${key}`, { body: { value: 1 }, headers: waited });
  const first = await call(s.url, 'PUT', `/v1/keys/${key}`, { body: { value: 'x' }, headers: ik });
  expect(first.status).toBe(412);
  await call(s.url, 'PUT', `/v1/keys/${key}`, { body: { value: 2 }, headers: waited });
  expect((await call(s.url, 'GET', `/v1/keys/${key}`)).body.version).toBe(2);

  const again = await call(s.url, 'PUT', `/v1/keys/${key}`, { body: { value: 'x' }, headers: ik });
  expect(again.status).toBe(412);
  expect(again.body).toMatchObject({ code: 'PRECONDITION_FAILED', decidedAfterVersion: 1 });
  const now = await call(s.url, 'GET', `/v1/keys/${key}`);
  expect(now.body).toMatchObject({ version: 2, value: 2 });
});

it('a delete refused with KEY_NOT_FOUND stays refused after the key is created', async () => {
  const key = 'refused/delete';
  const ik = { 'Idempotency-Key': 'refused-delete-1' };
  expect((await call(s.url, 'DELETE', `/v1/keys/${key}`, { headers: ik })).status).toBe(404);
  await call(s.url, 'PUT', `/v1/keys/${key}`, { body: { value: 1 }, headers: waited });
  const again = await call(s.url, 'DELETE', `/v1/keys/${key}`, { headers: ik });
  expect(again.status).toBe(404);
  expect(again.body).toMatchObject({ code: 'KEY_NOT_FOUND', decidedAfterVersion: 0 });
  expect((await call(s.url, 'GET', `/v1/keys/${key}`)).body.version).toBe(1);
});

it('a refusal binds only its own request: another request may use the key, and then the refused one is a reuse', async () => {
  const key = 'refused/other';
  const ik = { 'Idempotency-Key': 'refused-other-1' };
  await call(s.url, 'PUT', `/v1/keys/${key}`, { body: { value: 1 }, headers: waited });
  const refused = { body: { key, value: 'r' }, headers: ik };
  expect((await call(s.url, 'POST', '/v1/keys', refused)).status).toBe(409);
  const other = await call(s.url, 'PUT', `/v1/keys/${key}`, { body: { value: 'o' }, headers: ik });
  expect(other.status).toBe(202);
  // A repeat of the other request finds its op; the refused request now meets that op.
  const repeat = await call(s.url, 'PUT', `/v1/keys/${key}`, { body: { value: 'o' }, headers: ik });
  expect(repeat.body.op.id).toBe(other.body.op.id);
  const late = await call(s.url, 'POST', '/v1/keys', refused);
  expect(late.status).toBe(422);
  expect(late.body.code).toBe('IDEMPOTENCY_KEY_REUSED');
});
