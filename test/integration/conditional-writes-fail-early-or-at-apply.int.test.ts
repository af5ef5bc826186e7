import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { call, type Stack, startStack } from '../helpers/stack.ts';

let s: Stack;
const wait = { Prefer: 'wait=5' };
beforeAll(async () => {
  s = await startStack();
});
afterAll(async () => {
  await s.stop();
});

async function put(key: string, value: unknown, headers: Record<string, string> = {}) {
  return call(s.url, 'PUT', `/v1/keys/${key}`, {
    body: { value },
    headers: { ...wait, ...headers },
  });
}

describe('conditional writes decided at acceptance (nothing pending)', () => {
  it('If-None-Match: * creates once, then 412 at once', async () => {
    expect((await put('c1', 1, { 'If-None-Match': '*' })).status).toBe(201);
    const again = await call(s.url, 'PUT', '/v1/keys/c1', {
      body: { value: 2 },
      headers: { 'If-None-Match': '*' },
    });
    expect(again.status).toBe(412);
    expect(again.body.code).toBe('PRECONDITION_FAILED');
    expect(again.headers.get('content-type')).toBe('application/problem+json');
    expect((await call(s.url, 'GET', '/v1/keys/c1')).body.value).toBe(1);
  });

  it('If-Match: * updates only an existing key', async () => {
    expect(
      (
        await call(s.url, 'PUT', '/v1/keys/c2', {
          body: { value: 1 },
          headers: { 'If-Match': '*' },
        })
      ).status,
    ).toBe(412);
    await put('c2', 1);
    expect((await put('c2', 2, { 'If-Match': '*' })).status).toBe(200);
  });

  it('If-Match: "N" updates only at version N', async () => {
    await put('c3', 'a');
    const wrong = await call(s.url, 'PUT', '/v1/keys/c3', {
      body: { value: 'b' },
      headers: { 'If-Match': '"7"' },
    });
    expect(wrong.status).toBe(412);
    expect(wrong.body.detail).toContain('version 1');
    const right = await put('c3', 'b', { 'If-Match': '"1"' });
    expect(right.status).toBe(200);
    expect(right.body.version).toBe(2);
  });

  it('POST /v1/keys creates, and answers 409 KEY_EXISTS when the key exists', async () => {
    const a = await call(s.url, 'POST', '/v1/keys', {
      body: { key: 'p/1', value: { x: 1 } },
      headers: wait,
    });
    expect(a.status).toBe(201);
    expect(a.headers.get('location')).toBe('/v1/keys/p%2F1');
    const b = await call(s.url, 'POST', '/v1/keys', { body: { key: 'p/1', value: 2 } });
    expect(b.status).toBe(409);
    expect(b.body.code).toBe('KEY_EXISTS');
    const c = await call(s.url, 'POST', '/v1/keys', { body: { key: 'p/2', value: 2 } });
    expect(c.status).toBe(202);
    expect(c.headers.get('location')).toMatch(/^\/v1\/ops\//);
  });

  it('DELETE answers 404 at once for an absent key, and honours If-Match', async () => {
    const d = await call(s.url, 'DELETE', '/v1/keys/never-there');
    expect(d.status).toBe(404);
    expect(d.body.code).toBe('KEY_NOT_FOUND');
    await put('c4', 1);
    expect(
      (await call(s.url, 'DELETE', '/v1/keys/c4', { headers: { 'If-Match': '"9"' } })).status,
    ).toBe(412);
    expect(
      (await call(s.url, 'DELETE', '/v1/keys/c4', { headers: { 'If-Match': '"1"', ...wait } }))
        .status,
    ).toBe(204);
  });
});

describe('conditional writes decided at apply time (writes pending)', () => {
  it('accepts with 202 while writes are pending, then the op fails with PRECONDITION_FAILED', async () => {
    const p = await startStack({ worker: false });
    try {
      const first = await call(p.url, 'PUT', '/v1/keys/k', { body: { value: 1 } });
      expect(first.status).toBe(202);
      // The key does not exist yet, but a write is pending: the worker must decide.
      const cond = await call(p.url, 'PUT', '/v1/keys/k', {
        body: { value: 2 },
        headers: { 'If-None-Match': '*' },
      });
      expect(cond.status).toBe(202);
      const post = await call(p.url, 'POST', '/v1/keys', { body: { key: 'k', value: 3 } });
      expect(post.status).toBe(202);
      const del = await call(p.url, 'DELETE', '/v1/keys/other');
      expect(del.status).toBe(404);
      await p.startWorker();
      const op = await call(p.url, 'GET', `/v1/ops/${cond.body.op.id}`, {
        headers: { Prefer: 'wait=10' },
      });
      expect(op.body.op.status).toBe('failed');
      expect(op.body.op.error.code).toBe('PRECONDITION_FAILED');
      const postOp = await call(p.url, 'GET', `/v1/ops/${post.body.op.id}`, {
        headers: { Prefer: 'wait=10' },
      });
      expect(postOp.body.op.error.code).toBe('KEY_EXISTS');
      const g = await call(p.url, 'GET', '/v1/keys/k');
      expect(g.body).toMatchObject({ value: 1, version: 1 });
    } finally {
      await p.stop();
    }
  });

  it('Prefer: wait turns an apply-time failure into 412 (PUT) or 409 (POST)', async () => {
    const p = await startStack({ worker: false });
    try {
      await call(p.url, 'PUT', '/v1/keys/k', { body: { value: 1 } });
      const pending = [
        call(p.url, 'PUT', '/v1/keys/k', {
          body: { value: 2 },
          headers: { 'If-None-Match': '*', ...wait },
        }),
        call(p.url, 'POST', '/v1/keys', { body: { key: 'k', value: 3 }, headers: wait }),
      ];
      await new Promise((r) => setTimeout(r, 200));
      await p.startWorker();
      const [a, b] = await Promise.all(pending);
      expect(a!.status).toBe(412);
      expect(a!.body.op.status).toBe('failed');
      expect(a!.headers.get('preference-applied')).toBe('wait=5');
      expect(b!.status).toBe(409);
    } finally {
      await p.stop();
    }
  });

  it('answers the plain 202 when Prefer: wait runs out', async () => {
    const p = await startStack({ worker: false });
    try {
      const r = await call(p.url, 'PUT', '/v1/keys/slow', {
        body: { value: 1 },
        headers: { Prefer: 'wait=1' },
      });
      expect(r.status).toBe(202);
      expect(r.headers.get('preference-applied')).toBe('wait=1');
      expect(r.body.op.status).toBe('queued');
      const ryw = await call(p.url, 'GET', `/v1/keys/slow?after=${r.body.op.id}`, {
        headers: { Prefer: 'wait=1' },
      });
      expect(ryw.status).toBe(503);
      expect(ryw.body.code).toBe('OP_PENDING');
      expect(ryw.headers.get('retry-after')).toBe('1');
    } finally {
      await p.stop();
    }
  });
});
