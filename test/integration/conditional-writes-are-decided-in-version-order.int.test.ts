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
    // The same answer with an Idempotency-Key: no op, no tombstone (only the refusal is kept, for
    // repeats of this request).
    const i = await call(s.url, 'DELETE', '/v1/keys/never-there', {
      headers: { 'Idempotency-Key': 'del-never-there' },
    });
    expect(i.status).toBe(404);
    expect(await s.kvRedis.exists(s.dataKeysOf('never-there').record('never-there'))).toBe(0);
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

describe('conditional writes while writes to the key are pending', () => {
  it('wait for the pending writes, then are decided against what they left (one answer, as without pending writes)', async () => {
    const p = await startStack({ worker: false, env: { KEY_BUSY_WAIT_MS: '8000' } });
    try {
      const first = await call(p.url, 'PUT', '/v1/keys/k', { body: { value: 1 } });
      expect(first.status).toBe(202);
      // The key does not exist yet, but a write is pending: these are decided once it landed.
      const pending = [
        call(p.url, 'PUT', '/v1/keys/k', { body: { value: 2 }, headers: { 'If-None-Match': '*' } }),
        call(p.url, 'POST', '/v1/keys', { body: { key: 'k', value: 3 } }),
        call(p.url, 'PUT', '/v1/keys/k', { body: { value: 4 }, headers: { 'If-Match': '"1"' } }),
      ];
      await new Promise((r) => setTimeout(r, 300));
      await p.startWorker();
      const [cond, post, match] = await Promise.all(pending);
      expect(cond!.status).toBe(412);
      // Decided after v1 landed, or after the If-Match write (v2) landed if that went first.
      expect(cond!.body.code).toBe('PRECONDITION_FAILED');
      expect([1, 2]).toContain(cond!.body.decidedAfterVersion);
      expect(cond!.body.currentVersion).toBe(cond!.body.decidedAfterVersion);
      expect(post!.status).toBe(409);
      expect(post!.body.code).toBe('KEY_EXISTS');
      expect(match!.status).toBe(202);
      expect(match!.body.op).toMatchObject({ version: 2, type: 'put' });
      expect(typeof match!.body.op.decidedAt).toBe('string');
      const done = await call(p.url, 'GET', `/v1/ops/${match!.body.op.id}`, {
        headers: { Prefer: 'wait=10' },
      });
      expect(done.body.op.status).toBe('applied');
      const g = await call(p.url, 'GET', '/v1/keys/k');
      expect(g.body).toMatchObject({ value: 4, version: 2 });
    } finally {
      await p.stop();
    }
  });

  it('answer 503 KEY_BUSY with Retry-After when the pending writes do not land in time, and change nothing', async () => {
    const p = await startStack({ worker: false, env: { KEY_BUSY_WAIT_MS: '300' } });
    try {
      await call(p.url, 'PUT', '/v1/keys/k', { body: { value: 1 } });
      for (const r of await Promise.all([
        call(p.url, 'PUT', '/v1/keys/k', { body: { value: 2 }, headers: { 'If-Match': '*' } }),
        call(p.url, 'DELETE', '/v1/keys/k'),
        call(p.url, 'POST', '/v1/keys', { body: { key: 'k', value: 3 } }),
      ])) {
        expect(r.status).toBe(503);
        expect(r.body.code).toBe('KEY_BUSY');
        expect(r.headers.get('retry-after')).toBe('1');
      }
      expect(await p.queueRedis.hget(p.queueKeysOf('k').version('k'), 'n')).toBe('1');
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
