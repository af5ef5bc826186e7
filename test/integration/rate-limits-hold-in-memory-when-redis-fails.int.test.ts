import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, expect, it } from 'vitest';

import { type RedisServer, startRedisServer } from '../../src/redis/index.ts';
import { call, eventually, type Stack, startStack, timed } from '../helpers/stack.ts';

/**
 * The rate-limit counters live in the queue Redis. When it hangs (SIGSTOP) or is gone, requests
 * are counted in the API process' memory instead: the limits still hold, reads (served by the
 * data Redis) still answer, in a bounded time, and never with a 5xx. Once Redis answers again the
 * counters go back to it.
 */

let dir: string;
let queue: RedisServer;
let data: RedisServer;
let s: Stack;
const QUOTA = 3;
const WINDOW = 600;
/** Far above RATE_LIMIT_REDIS_TIMEOUT_MS: an answer in less shows the limiter did not wait on it. */
const COMMAND_TIMEOUT_MS = 5000;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kvq-rl-'));
  queue = await startRedisServer({ dir: join(dir, 'q'), appendonly: false });
  data = await startRedisServer({ dir: join(dir, 'd'), appendonly: false });
  s = await startStack({
    worker: false,
    queueUrl: queue.url,
    kvUrl: data.url,
    env: {
      RATE_LIMIT_ANON_PER_SECOND: String(QUOTA / WINDOW),
      RATE_LIMIT_WINDOW_SECONDS: String(WINDOW),
      RATE_LIMIT_REDIS_TIMEOUT_MS: '100',
      REDIS_COMMAND_TIMEOUT_MS: String(COMMAND_TIMEOUT_MS),
      TRUSTED_PROXIES: '127.0.0.1',
    },
  });
});
afterAll(async () => {
  queue.child.kill('SIGCONT');
  await s.stop();
  await Promise.all([queue.stop(), data.stop()]);
  rmSync(dir, { recursive: true, force: true });
});

const get = (client: string, path = '/v1/keys/k') =>
  call(s.url, 'GET', path, { headers: { 'X-Forwarded-For': client } });

/** QUOTA requests answered (404: no such key), then 429, on both lanes; never a 5xx. */
async function expectLimited(client: string) {
  const statuses: number[] = [];
  for (let i = 0; i < QUOTA; i++) {
    const [r, ms] = await timed(() => get(client, i % 2 ? '/v1/keys?prefix=x' : '/v1/keys/k'));
    statuses.push(r.status);
    expect(ms).toBeLessThan(COMMAND_TIMEOUT_MS);
    expect(r.headers.get('ratelimit')).toMatch(new RegExp(`;r=${String(QUOTA - 1 - i)};`));
  }
  expect(statuses.every((st) => st === 200 || st === 404)).toBe(true);
  const over = await get(client);
  expect(over.status).toBe(429);
  expect(over.body.code).toBe('RATE_LIMITED');
  expect(Number(over.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  const overHono = await get(client, '/v1/keys?prefix=x');
  expect(overHono.status).toBe(429);
}

const counterOf = (client: string) =>
  s.queueRedis.exists(`${s.layout.global.rateLimits}:a:${client}`);

it('counts in the queue Redis while it answers', async () => {
  await expectLimited('198.51.100.1');
  expect(await counterOf('198.51.100.1')).toBe(1);
});

it('a hung queue Redis: limits hold from memory, answers come in time', async () => {
  queue.child.kill('SIGSTOP');
  try {
    await expectLimited('198.51.100.2');
  } finally {
    queue.child.kill('SIGCONT');
  }
  // Redis answers again: after a short pause the counters are back in it (each try a new
  // client: one counted over its quota in memory stays refused for its window).
  let n = 10;
  const back = await eventually(
    async () => {
      const client = `198.51.100.${String(n++)}`;
      await get(client);
      return (await counterOf(client)) === 1;
    },
    10_000,
    200,
  );
  expect(back).toBe(true);
});

it('a stopped queue Redis: limits hold from memory, reads still answer', async () => {
  await queue.stop('SIGKILL');
  await expectLimited('198.51.100.4');
});
