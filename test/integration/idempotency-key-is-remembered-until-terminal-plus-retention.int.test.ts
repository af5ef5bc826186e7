import { expect, it } from 'vitest';

import { call, startStack } from '../helpers/stack.ts';

/**
 * An Idempotency-Key answers with the original op for as long as it is remembered: until the op
 * is terminal plus OP_RETENTION_SECONDS, whatever became of the receipt meanwhile.
 */

it('a repeat answers the original outcome after its receipt was trimmed by count', async () => {
  const s = await startStack({ env: { OP_RETENTION_COUNT: '100' } });
  try {
    const headers = { 'Idempotency-Key': 'trim-me', Prefer: 'wait=5' };
    const first = await call(s.url, 'PUT', '/v1/keys/idem/a', { body: { value: 1 }, headers });
    expect(first.status).toBe(201);
    const id = first.body.op.id as string;
    // 150 more finished ops in the same partition push the first receipt out of the count cap
    // (each partition keeps its share of it).
    const fills: string[] = [];
    for (let n = 0; fills.length < 10; n++) {
      const k = `idem/fill-${String(n)}`;
      if (s.layout.of(k) === s.layout.of('idem/a')) fills.push(k);
    }
    for (let i = 0; i < 150; i++) {
      await call(s.url, 'PUT', `/v1/keys/${fills[i % 10] ?? ''}`, {
        body: { value: i },
        headers: { Prefer: 'wait=5' },
      });
    }
    expect((await call(s.url, 'GET', `/v1/ops/${id}`)).status).toBe(404);
    const repeat = await call(s.url, 'PUT', '/v1/keys/idem/a', {
      body: { value: 1 },
      headers: { 'Idempotency-Key': 'trim-me' },
    });
    expect(repeat.status).toBe(202);
    expect(repeat.body.op).toMatchObject({ id, status: 'applied', version: 1 });
    // Nothing was written twice.
    expect((await call(s.url, 'GET', '/v1/keys/idem/a')).body.version).toBe(1);
  } finally {
    await s.stop();
  }
}, 60_000);

it('a repeat of an op still pending after the retention period is the same op, not a second one', async () => {
  const s = await startStack({ worker: false, env: { OP_RETENTION_SECONDS: '1' } });
  try {
    const headers = { 'Idempotency-Key': 'slow-one' };
    const first = await call(s.url, 'PUT', '/v1/keys/idem/b', { body: { value: 1 }, headers });
    expect(first.status).toBe(202);
    await new Promise((r) => setTimeout(r, 1500));
    const repeat = await call(s.url, 'PUT', '/v1/keys/idem/b', { body: { value: 1 }, headers });
    expect(repeat.status).toBe(202);
    expect(repeat.body.op.id).toBe(first.body.op.id);
    await s.startWorker();
    const done = await call(s.url, 'GET', `/v1/ops/${first.body.op.id as string}`, {
      headers: { Prefer: 'wait=10' },
    });
    expect(done.body.op.status).toBe('applied');
    expect((await call(s.url, 'GET', '/v1/keys/idem/b')).body.version).toBe(1);
  } finally {
    await s.stop();
  }
}, 30_000);
