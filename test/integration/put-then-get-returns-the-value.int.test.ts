import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { call, type Stack, startStack } from '../helpers/stack.ts';

let s: Stack;
beforeAll(async () => {
  s = await startStack();
});
afterAll(async () => {
  await s.stop();
});

describe('PUT then GET', () => {
  it('accepts a put with 202, Location and a queued receipt', async () => {
    const r = await call(s.url, 'PUT', '/v1/keys/users/42', { body: { value: { name: 'Ada' } } });
    expect(r.status).toBe(202);
    expect(r.headers.get('location')).toBe(`/v1/ops/${r.body.op.id}`);
    expect(r.body.op).toMatchObject({ key: 'users/42', type: 'put', version: 1, status: 'queued' });
    expect(Date.parse(r.body.op.acceptedAt)).not.toBeNaN();

    const op = await call(s.url, 'GET', r.headers.get('location')!, {
      headers: { Prefer: 'wait=5' },
    });
    expect(op.status).toBe(200);
    expect(op.headers.get('preference-applied')).toBe('wait=5');
    expect(op.body.op).toMatchObject({ id: r.body.op.id, status: 'applied', attempts: 1 });
    expect(op.body.op.appliedAt).toBeTypeOf('string');

    const g = await call(s.url, 'GET', '/v1/keys/users/42');
    expect(g.status).toBe(200);
    expect(g.headers.get('etag')).toBe('"1"');
    expect(g.body).toMatchObject({
      key: 'users/42',
      value: { name: 'Ada' },
      version: 1,
      expiresAt: null,
    });
  });

  it('Prefer: wait answers 201 on create and 200 on update, with the record', async () => {
    const a = await call(s.url, 'PUT', '/v1/keys/w', {
      body: { value: [1, 'two', null] },
      headers: { Prefer: 'wait=10' },
    });
    expect(a.status).toBe(201);
    expect(a.headers.get('preference-applied')).toBe('wait=10');
    expect(a.headers.get('etag')).toBe('"1"');
    expect(a.headers.get('location')).toBe('/v1/keys/w');
    expect(a.body).toMatchObject({ key: 'w', value: [1, 'two', null], version: 1 });
    expect(a.body.op.status).toBe('applied');

    const b = await call(s.url, 'PUT', '/v1/keys/w', {
      body: { value: false },
      headers: { Prefer: 'wait=10' },
    });
    expect(b.status).toBe(200);
    expect(b.body).toMatchObject({ key: 'w', value: false, version: 2 });
    expect(b.body.createdAt).toBe(a.body.createdAt);
  });

  it('keeps "/" and percent-encoded characters in keys', async () => {
    const key = 'a/b c/ü%2F?#';
    const path = `/v1/keys/${encodeURIComponent(key).replace(/%2F/g, '/')}`;
    const p = await call(s.url, 'PUT', path, { body: { value: 1 }, headers: { Prefer: 'wait=5' } });
    expect(p.status).toBe(201);
    const g = await call(s.url, 'GET', path);
    expect(g.body.key).toBe(key);
    const enc = await call(s.url, 'GET', `/v1/keys/${encodeURIComponent(key)}`);
    expect(enc.body.key).toBe(key);
  });

  it('answers 304 for a matching If-None-Match and supports HEAD', async () => {
    await call(s.url, 'PUT', '/v1/keys/etag', {
      body: { value: 'x' },
      headers: { Prefer: 'wait=5' },
    });
    const nm = await call(s.url, 'GET', '/v1/keys/etag', { headers: { 'If-None-Match': '"1"' } });
    expect(nm.status).toBe(304);
    expect(nm.headers.get('etag')).toBe('"1"');
    expect(nm.text).toBe('');
    const other = await call(s.url, 'GET', '/v1/keys/etag', {
      headers: { 'If-None-Match': '"7"' },
    });
    expect(other.status).toBe(200);
    const head = await call(s.url, 'HEAD', '/v1/keys/etag');
    expect(head.status).toBe(200);
    expect(head.headers.get('etag')).toBe('"1"');
    expect(head.text).toBe('');
    const headMissing = await call(s.url, 'HEAD', '/v1/keys/nope-nope');
    expect(headMissing.status).toBe(404);
  });

  it('answers 404 KEY_NOT_FOUND as problem+json for a missing key', async () => {
    const r = await call(s.url, 'GET', '/v1/keys/never-written');
    expect(r.status).toBe(404);
    expect(r.headers.get('content-type')).toBe('application/problem+json');
    expect(r.body).toMatchObject({ status: 404, code: 'KEY_NOT_FOUND', title: 'Key not found' });
    expect(r.body.requestId).toBe(r.headers.get('x-request-id'));
  });

  it('expires keys after ttlSeconds (relative to apply time)', async () => {
    const p = await call(s.url, 'PUT', '/v1/keys/short', {
      body: { value: 'soon gone', ttlSeconds: 1 },
      headers: { Prefer: 'wait=5' },
    });
    expect(p.status).toBe(201);
    expect(Date.parse(p.body.expiresAt) - Date.parse(p.body.updatedAt)).toBe(1000);
    expect((await call(s.url, 'GET', '/v1/keys/short')).status).toBe(200);
    await new Promise((r) => setTimeout(r, 1100));
    expect((await call(s.url, 'GET', '/v1/keys/short')).status).toBe(404);
  });

  it('read-your-writes: ?after=opId waits for the op, then reads', async () => {
    const p = await call(s.url, 'PUT', '/v1/keys/ryw', { body: { value: 'fresh' } });
    const g = await call(s.url, 'GET', `/v1/keys/ryw?after=${p.body.op.id}`);
    expect(g.status).toBe(200);
    expect(g.body.value).toBe('fresh');
    const unknown = await call(s.url, 'GET', '/v1/keys/ryw?after=does-not-exist');
    expect(unknown.status).toBe(404);
    expect(unknown.body.code).toBe('OP_NOT_FOUND');
  });

  it('?consistency=replicated reads as the primary does without MIN_REPLICA_ACKS; other values are refused', async () => {
    const p = await call(s.url, 'PUT', '/v1/keys/rc', {
      body: { value: 1 },
      headers: { Prefer: 'wait=10' },
    });
    expect(p.status).toBe(201);
    const r = await call(s.url, 'GET', '/v1/keys/rc?consistency=replicated');
    expect([r.status, r.body.value, r.body.version]).toEqual([200, 1, 1]);
    expect((await call(s.url, 'GET', '/v1/keys/rc?consistency=primary')).body.value).toBe(1);
    const missing = await call(s.url, 'GET', '/v1/keys/rc-none?consistency=replicated');
    expect(missing.body.code).toBe('KEY_NOT_FOUND');
    for (const bad of ['bogus', '', 'REPLICATED']) {
      const q = await call(s.url, 'GET', `/v1/keys/rc?consistency=${bad}`);
      expect(q.status).toBe(400);
      expect(q.headers.get('content-type')).toContain('application/problem+json');
      expect(q.body.code).toBe('VALIDATION_FAILED');
      expect(q.body.errors[0].path).toBe('consistency');
    }
  });

  it('deletes with 202, then 404 on read; Prefer: wait gives 204', async () => {
    await call(s.url, 'PUT', '/v1/keys/del', { body: { value: 1 }, headers: { Prefer: 'wait=5' } });
    const d = await call(s.url, 'DELETE', '/v1/keys/del');
    expect(d.status).toBe(202);
    expect(d.body.op).toMatchObject({ type: 'delete', version: 2, status: 'queued' });
    const g = await call(s.url, 'GET', `/v1/keys/del?after=${d.body.op.id}`);
    expect(g.status).toBe(404);

    await call(s.url, 'PUT', '/v1/keys/del2', {
      body: { value: 1 },
      headers: { Prefer: 'wait=5' },
    });
    const d2 = await call(s.url, 'DELETE', '/v1/keys/del2', { headers: { Prefer: 'wait=5' } });
    expect(d2.status).toBe(204);
    expect(d2.headers.get('preference-applied')).toBe('wait=5');
  });

  it('gives every accepted write (deletes too) the next version of its key', async () => {
    const versions: number[] = [];
    for (let i = 0; i < 5; i++) {
      const r =
        i === 3
          ? await call(s.url, 'DELETE', '/v1/keys/seq')
          : await call(s.url, 'PUT', '/v1/keys/seq', { body: { value: i } });
      expect(r.status).toBe(202);
      versions.push(r.body.op.version);
    }
    expect(versions).toEqual([1, 2, 3, 4, 5]);
    const g = await call(s.url, 'GET', '/v1/keys/seq', { headers: { Prefer: 'wait=5' } });
    expect(g.status === 200 ? g.body.version : 0).toBeLessThanOrEqual(5);
  });
});
