import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';

import { type RedisServer, startRedisServer } from '../../src/redis/index.ts';

/**
 * The helper behind the tests, the chaos run and `kvq dev` restarts Redis on the same port. If
 * another process took that port in between, the helper must say so instead of handing back the
 * other server (whose data would then stand in for the restarted one).
 */
let dir: string;
let first: RedisServer;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kvq-helper-'));
  first = await startRedisServer({ dir: join(dir, 'a'), appendonly: false });
});

afterAll(async () => {
  await first.stop();
  rmSync(dir, { recursive: true, force: true });
});

it('refuses a port another Redis already answers on', async () => {
  await expect(
    startRedisServer({ dir: join(dir, 'b'), port: first.port, appendonly: false }),
  ).rejects.toThrow(/held by another Redis|exited at start/);
  // the first server is untouched
  const r = new Redis(first.url);
  try {
    expect(await r.ping()).toBe('PONG');
  } finally {
    r.disconnect();
  }
});

it('a restart comes back on the same port, as a new process, with its AOF reloaded', async () => {
  const s = await startRedisServer({ dir: join(dir, 'c') });
  const r = new Redis(s.url, { maxRetriesPerRequest: 1 });
  r.on('error', () => undefined);
  try {
    await r.set('k', 'v');
    const next = await s.restart();
    expect(next.port).toBe(s.port);
    expect(next.pid).not.toBe(s.pid);
    expect(await r.get('k')).toBe('v');
    await next.stop();
  } finally {
    r.disconnect();
  }
});
