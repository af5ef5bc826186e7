import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, expect, it } from 'vitest';

import { type RedisServer, startRedisServer } from '../../src/redis/index.ts';
import { ADMISSION_SEES_IT_MS, fillUntilFull } from '../helpers/fill-redis.ts';
import { call, eventually, startStack } from '../helpers/stack.ts';

let dir: string;
let data: RedisServer;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kvq-full-data-'));
  data = await startRedisServer({
    dir,
    appendonly: false,
    noeviction: true,
    extraArgs: ['--maxmemory', '6mb'],
  });
});
afterAll(async () => {
  await data.stop();
  rmSync(dir, { recursive: true, force: true });
});

it('a full data Redis: writes 503 DATA_FULL before anything is accepted; reads and /readyz fine; writes resume once it frees', async () => {
  const s = await startStack({ kvUrl: data.url });
  try {
    const first = await call(s.url, 'PUT', '/v1/keys/kept', {
      body: { value: 'v' },
      headers: { Prefer: 'wait=10' },
    });
    expect(first.body.op.status).toBe('applied');
    await fillUntilFull(s.kvRedis);
    await new Promise((r) => setTimeout(r, ADMISSION_SEES_IT_MS));

    const refused = await call(s.url, 'PUT', '/v1/keys/during', { body: { value: 'x' } });
    expect(refused.status).toBe(503);
    expect(refused.body.code).toBe('DATA_FULL');
    expect(refused.headers.get('retry-after')).toBe('5');
    for (let i = 0; i < 20; i++) {
      const r = await call(s.url, 'PUT', `/v1/keys/during${String(i)}`, {
        body: { value: i },
        headers: i % 2 ? { 'Idempotency-Key': `d-${String(i)}` } : {},
      });
      expect(r.status).toBe(503);
      expect(r.body.code).toBe('DATA_FULL');
    }
    // Nothing was accepted: no receipt, nothing open, no job.
    expect(await s.queueRedis.keys(`${s.config.KEY_PREFIX}{*}op:*`)).toEqual([
      s.queueKeysOfOp(String(first.body.op.id)).op(String(first.body.op.id)),
    ]);
    expect(await s.openCount()).toBe(0);
    expect((await call(s.url, 'GET', '/v1/keys/kept')).body.value).toBe('v');
    expect((await call(s.url, 'GET', '/v1/keys')).status).toBe(200);
    expect((await call(s.url, 'GET', '/readyz')).status).toBe(200);

    await s.kvRedis.config('SET', 'maxmemory', '64mb');
    const ok = await eventually(async () => {
      const r = await call(s.url, 'PUT', '/v1/keys/after', {
        body: { value: 'y' },
        headers: { Prefer: 'wait=10' },
      });
      return r.status < 300 ? r : undefined;
    });
    expect(ok?.body.op.status).toBe('applied');
  } finally {
    await s.stop();
  }
}, 60_000);
