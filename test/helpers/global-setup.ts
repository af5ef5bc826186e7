import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { TestProject } from 'vitest/node';

import { type RedisServer, startRedisServer } from '../../src/redis/index.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    queueRedisUrl: string;
    kvRedisUrl: string;
  }
}

/** Two real redis-server processes on free loopback ports, shared by every test file. */
export default async function setup(project: TestProject) {
  const dir = mkdtempSync(join(tmpdir(), 'kvq-test-'));
  const servers: RedisServer[] = await Promise.all([
    startRedisServer({ dir: join(dir, 'queue'), appendonly: false, noeviction: true }),
    startRedisServer({ dir: join(dir, 'data'), appendonly: false }),
  ]);
  const [queue, data] = servers as [RedisServer, RedisServer];
  // If the runner dies without running the teardown, still end the servers it started.
  const killAll = () => {
    for (const srv of servers) srv.child.kill('SIGKILL');
  };
  process.once('exit', killAll);
  project.provide('queueRedisUrl', queue.url);
  project.provide('kvRedisUrl', data.url);
  return async () => {
    process.off('exit', killAll);
    await Promise.all(servers.map((s) => s.stop()));
    rmSync(dir, { recursive: true, force: true });
  };
}
