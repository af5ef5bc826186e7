import { afterAll, beforeAll, expect, it } from 'vitest';

import { call, type Stack, startStack } from '../helpers/stack.ts';

let s: Stack;
beforeAll(async () => {
  s = await startStack();
});
afterAll(async () => {
  await s.stop();
});

it('a repeat with the same Idempotency-Key and body returns the original op and writes once', async () => {
  const h = { 'Idempotency-Key': 'order-1' };
  const a = await call(s.url, 'PUT', '/v1/keys/idem', { body: { value: 1 }, headers: h });
  const b = await call(s.url, 'PUT', '/v1/keys/idem', { body: { value: 1 }, headers: h });
  expect(a.status).toBe(202);
  expect(b.status).toBe(202);
  expect(b.body.op.id).toBe(a.body.op.id);
  expect(b.body.op.version).toBe(1);
  const c = await call(s.url, 'PUT', '/v1/keys/idem', {
    body: { value: 1 },
    headers: { ...h, Prefer: 'wait=5' },
  });
  expect(c.status).toBe(201);
  expect(c.body.op.id).toBe(a.body.op.id);
  expect((await call(s.url, 'GET', '/v1/keys/idem')).body.version).toBe(1);
});

it('the same Idempotency-Key with a different body is 422 IDEMPOTENCY_KEY_REUSED and changes nothing', async () => {
  const h = { 'Idempotency-Key': 'order-2' };
  await call(s.url, 'PUT', '/v1/keys/idem2', {
    body: { value: 1 },
    headers: { ...h, Prefer: 'wait=5' },
  });
  const r = await call(s.url, 'PUT', '/v1/keys/idem2', { body: { value: 2 }, headers: h });
  expect(r.status).toBe(422);
  expect(r.body.code).toBe('IDEMPOTENCY_KEY_REUSED');
  const other = await call(s.url, 'PUT', '/v1/keys/elsewhere', { body: { value: 1 }, headers: h });
  expect(other.status).toBe(422);
  expect((await call(s.url, 'GET', '/v1/keys/idem2')).body).toMatchObject({ value: 1, version: 1 });
});

it('a repeated create returns the original op even though the key now exists', async () => {
  const h = { 'Idempotency-Key': 'create-3', Prefer: 'wait=5' };
  const a = await call(s.url, 'POST', '/v1/keys', {
    body: { key: 'idem3', value: 'x' },
    headers: h,
  });
  expect(a.status).toBe(201);
  const b = await call(s.url, 'POST', '/v1/keys', {
    body: { key: 'idem3', value: 'x' },
    headers: h,
  });
  expect(b.status).toBe(201);
  expect(b.body.op.id).toBe(a.body.op.id);
});

it('rejects a malformed Idempotency-Key', async () => {
  const r = await call(s.url, 'PUT', '/v1/keys/idem4', {
    body: { value: 1 },
    headers: { 'Idempotency-Key': 'x'.repeat(300) },
  });
  expect(r.status).toBe(400);
  expect(r.body.code).toBe('INVALID_HEADER');
});
