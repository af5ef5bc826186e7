import { afterAll, beforeAll, expect, it } from 'vitest';

import { loadConfig } from '../../src/core/index.ts';
import {
  closeClient,
  createRedisClient,
  type LocalSentinelSet,
  startSentinelSet,
  waitReady,
} from '../../src/redis/index.ts';

/**
 * The password inside a redis+sentinel:// URL is the Redis servers'; the Sentinels' own is
 * SENTINEL_PASSWORD. Each is needed, and neither stands in for the other.
 */
let set: LocalSentinelSet;

beforeAll(async () => {
  set = await startSentinelSet({
    replicas: 1,
    sentinels: 1,
    password: 'server-pw',
    sentinelPassword: 'sentinel-pw',
  });
}, 60_000);

afterAll(async () => {
  await set.stop();
});

async function reachable(url: string, env: Record<string, string>): Promise<boolean> {
  const config = loadConfig({ REDIS_CONNECT_TIMEOUT_MS: '500', ...env });
  const client = createRedisClient(url, 'command', config, 'test-auth');
  try {
    if (!(await waitReady(client, 2000))) return false;
    await client.set('auth', 'ok');
    return (await client.get('auth')) === 'ok';
  } catch {
    return false;
  } finally {
    await closeClient(client);
  }
}

it('with both passwords the client reaches the primary', async () => {
  expect(set.url).toMatch(/^redis\+sentinel:\/\/:server-pw@127\.0\.0\.1:\d+\/kvq$/);
  expect(await reachable(set.url, { SENTINEL_PASSWORD: 'sentinel-pw' })).toBe(true);
});

it('without SENTINEL_PASSWORD, or with the URL password in its place, it does not', async () => {
  expect(await reachable(set.url, {})).toBe(false);
  expect(await reachable(set.url, { SENTINEL_PASSWORD: 'server-pw' })).toBe(false);
});

it('without the servers’ password in the URL it does not', async () => {
  const bare = set.url.replace(':server-pw@', '');
  expect(await reachable(bare, { SENTINEL_PASSWORD: 'sentinel-pw' })).toBe(false);
});
