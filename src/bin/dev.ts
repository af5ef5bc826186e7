import { resolve } from 'node:path';

import type { Config, Lifecycle, Logger } from '../core/index.ts';
import { REDIS_INSTALL_HINT, redisServerAvailable, startRedisServer } from '../redis/index.ts';
import { startApi } from './api.ts';
import { startWorker } from './worker.ts';

export class MissingRedisError extends Error {}

/**
 * `kvq dev`: the whole stack in one command. Without QUEUE_REDIS_URL/KV_REDIS_URL it starts two
 * redis-server children (queue: AOF + noeviction; data: AOF) on free loopback ports with their
 * data under DEV_DATA_DIR, then the API and DEV_WORKERS workers in this process.
 */
export async function startDev(config: Config, logger: Logger, lifecycle: Lifecycle) {
  let queueUrl = config.QUEUE_REDIS_URL;
  let kvUrl = config.KV_REDIS_URL;
  if (!queueUrl || !kvUrl) {
    if (!redisServerAvailable()) throw new MissingRedisError(REDIS_INSTALL_HINT);
    const base = resolve(config.DEV_DATA_DIR);
    const [queue, data] = await Promise.all([
      queueUrl ? undefined : startRedisServer({ dir: resolve(base, 'queue'), noeviction: true }),
      kvUrl ? undefined : startRedisServer({ dir: resolve(base, 'data') }),
    ]);
    // Registered first, so closed last: after the API and worker are done with them.
    lifecycle.register('redis-servers', async () => {
      await Promise.all([queue?.stop(), data?.stop()]);
    });
    if (queue) {
      queueUrl = queue.url;
      logger.info({ url: queue.url, pid: queue.pid, dir: queue.dir }, 'queue redis-server started');
    }
    if (data) {
      kvUrl = data.url;
      logger.info({ url: data.url, pid: data.pid, dir: data.dir }, 'data redis-server started');
    }
  }
  if (!queueUrl || !kvUrl) throw new Error('unreachable: Redis URLs missing');
  const urls = { queueUrl, kvUrl };
  // In-process workers share the API's port space: no separate health port.
  const workerConfig = { ...config, WORKER_HEALTH_PORT: 0 };
  for (let i = 0; i < config.DEV_WORKERS; i++) {
    await startWorker(workerConfig, urls, logger, lifecycle);
  }
  const api = await startApi(config, urls, logger, lifecycle);
  return { ...api, ...urls };
}
