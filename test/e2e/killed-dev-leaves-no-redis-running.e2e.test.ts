import { afterEach, expect, it } from 'vitest';

import { freePort } from '../../src/redis/index.ts';
import { alive, type DevProcess, gone, startDevProcess } from '../helpers/dev-process.ts';
import { eventually } from '../helpers/stack.ts';

/**
 * A redis-server cannot notice that the `kvq dev` that started it died. A watchdog does: killed
 * with -9, kvq leaves no redis-server running; and `npm start` killed with -9 (which leaves kvq
 * itself running, orphaned) ends kvq and its children too.
 */
let dev: DevProcess | undefined;
afterEach(async () => {
  await dev?.cleanup();
  dev = undefined;
});

async function started(d: DevProcess) {
  const up = await eventually(() => d.stdout().includes('api listening'), 30_000, 50);
  expect(up, d.stdout() + d.stderr()).toBe(true);
  const kvq = d.kvqPid();
  const redis = d.redisPids();
  expect(kvq).toBeDefined();
  expect(redis).toHaveLength(2);
  expect(redis.every(alive)).toBe(true);
  return { kvq: kvq ?? -1, redis };
}

it('kill -9 of kvq dev: its redis-server children are gone soon after', async () => {
  // Readable logs, as on a terminal: the dev loop then logs a line per request.
  const port = await freePort();
  dev = startDevProcess(process.execPath, ['bin/kvq.js', 'dev'], {
    PORT: String(port),
    LOG_FORMAT: 'pretty',
  });
  const d = dev;
  expect(await eventually(() => d.stdout().includes('api listening'), 30_000, 50)).toBe(true);
  const redis = d.redisPids();
  expect(redis).toHaveLength(2);
  expect(redis.every(alive)).toBe(true);
  await (await fetch(`http://127.0.0.1:${String(port)}/v1/keys/absent`)).arrayBuffer();
  const line = await eventually(
    () => /^\d\d:\d\d:\d\d\.\d{3} GET \/v1\/keys\/absent 404 \d+\.\dms$/m.test(d.stdout()),
    5000,
    20,
  );
  expect(line, d.stdout()).toBe(true);
  expect(d.stdout()).not.toMatch(/^\{/m);
  process.kill(d.child.pid ?? -1, 'SIGKILL');
  expect(await gone(redis, 10_000)).toEqual([]);
}, 60_000);

it('kill -9 of npm start: kvq notices, stops, and its redis-server children are gone', async () => {
  dev = startDevProcess('npm', ['start'], { PORT: String(await freePort()) });
  const { kvq, redis } = await started(dev);
  process.kill(dev.child.pid ?? -1, 'SIGKILL');
  expect(await gone([kvq, ...redis], 10_000)).toEqual([]);
}, 60_000);
