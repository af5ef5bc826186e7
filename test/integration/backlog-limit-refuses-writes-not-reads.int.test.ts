import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { expect, it } from 'vitest';

import { startRedisServer } from '../../src/redis/index.ts';
import { call, startStack } from '../helpers/stack.ts';

it('over MAX_BACKLOG writes get 503 BACKLOG_FULL + Retry-After, reads keep working, nothing accepted is dropped', async () => {
  const s = await startStack({ worker: false, env: { MAX_BACKLOG: '5' } });
  try {
    const accepted: string[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await call(s.url, 'PUT', `/v1/keys/bp${String(i)}`, { body: { value: i } });
      expect(r.status).toBe(202);
      accepted.push(r.body.op.id);
    }
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
    // Accepted again as soon as the ops finished: the count is read again before refusing.
    expect((await call(s.url, 'PUT', '/v1/keys/bp-over', { body: { value: 'x' } })).status).toBe(
      202,
    );
    expect((await call(s.url, 'GET', '/v1/keys/bp-over')).status).not.toBe(503);
  } finally {
    await s.stop();
  }
});

it('MAX_BACKLOG counts every unfinished op: with the data Redis down and a worker retrying, a burst of 1000 writes accepts about MAX_BACKLOG', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kvq-backlog-'));
  const data = await startRedisServer({ dir, appendonly: false });
  const s = await startStack({ kvUrl: data.url, env: { MAX_BACKLOG: '50' } });
  try {
    await data.stop();
    const statuses: { status: number; code?: string }[] = [];
    for (let i = 0; i < 1000; i += 20) {
      const batch = await Promise.all(
        Array.from({ length: 20 }, (_, j) =>
          call(s.url, 'PUT', `/v1/keys/burst${String(i + j)}`, { body: { value: i + j } }),
        ),
      );
      for (const r of batch) statuses.push({ status: r.status, code: r.body?.code });
    }
    const accepted = statuses.filter((r) => r.status === 202).length;
    expect(accepted).toBeGreaterThanOrEqual(45);
    expect(accepted).toBeLessThanOrEqual(55);
    expect(statuses.filter((r) => r.status !== 202).every((r) => r.code === 'BACKLOG_FULL')).toBe(
      true,
    );
    // Every accepted op is still there, unfinished (the worker retries them).
    expect(await s.openCount()).toBe(accepted);
  } finally {
    await s.stop();
    await data.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}, 60_000);
