import { expect, it } from 'vitest';

import { call, startStack } from '../helpers/stack.ts';

it('over MAX_BACKLOG writes get 503 BACKLOG_FULL + Retry-After, reads keep working, nothing accepted is dropped', async () => {
  const s = await startStack({ worker: false, env: { MAX_BACKLOG: '5' } });
  try {
    const accepted: string[] = [];
    for (let i = 0; i < 6; i++) {
      const r = await call(s.url, 'PUT', `/v1/keys/bp${String(i)}`, { body: { value: i } });
      expect(r.status).toBe(202);
      accepted.push(r.body.op.id);
    }
    await new Promise((r) => setTimeout(r, 300)); // the API caches the backlog for 250 ms
    const refused = await call(s.url, 'PUT', '/v1/keys/bp-over', { body: { value: 'x' } });
    expect(refused.status).toBe(503);
    expect(refused.body.code).toBe('BACKLOG_FULL');
    expect(refused.headers.get('retry-after')).toBe('2');
    expect((await call(s.url, 'DELETE', '/v1/keys/bp0')).status).toBe(503);
    expect((await call(s.url, 'GET', '/v1/keys/bp0')).status).toBe(404); // a read, not a 503
    expect((await call(s.url, 'GET', '/v1/keys')).status).toBe(200);

    await s.startWorker();
    for (const id of accepted) {
      const r = await call(s.url, 'GET', `/v1/ops/${id}`, { headers: { Prefer: 'wait=10' } });
      expect(r.body.op.status).toBe('applied');
    }
    await new Promise((r) => setTimeout(r, 300));
    expect((await call(s.url, 'PUT', '/v1/keys/bp-over', { body: { value: 'x' } })).status).toBe(
      202,
    );
    expect((await call(s.url, 'GET', '/v1/keys/bp-over')).status).not.toBe(503);
  } finally {
    await s.stop();
  }
});
