import { rmSync } from 'node:fs';
import { resolve } from 'node:path';

import type { Config, Lifecycle, Logger } from '../core/index.ts';
import {
  REDIS_INSTALL_HINT,
  redisServerAvailable,
  startRedisCluster,
  startRedisServer,
  startSentinelSet,
} from '../redis/index.ts';
import { startApi } from './api.ts';
import { startWorker } from './worker.ts';

export class MissingRedisError extends Error {}

export const DEV_TOPOLOGIES = ['standalone', 'cluster', 'sentinel'] as const;
export type DevTopology = (typeof DEV_TOPOLOGIES)[number];

/** A local Redis `kvq dev` started: its URL and how to end it. */
interface LocalRedis {
  url: string;
  pids: number[];
  dir: string;
  stop(): Promise<void>;
}

/**
 * Starts the queue or data Redis of `kvq dev` in the chosen topology. Standalone keeps its data
 * under DEV_DATA_DIR across runs (AOF). A cluster (3 primaries + 3 replicas) or a Sentinel set
 * (primary + 2 replicas + 3 Sentinels) starts empty every run: its directory is cleared first,
 * since nodes.conf and sentinel.conf name the last run's ports. The queue Redis is noeviction.
 */
async function startLocalRedis(
  topology: DevTopology,
  role: 'queue' | 'data',
  base: string,
): Promise<LocalRedis> {
  const extraConfig = role === 'queue' ? ['--maxmemory-policy', 'noeviction'] : [];
  if (topology === 'standalone') {
    const s = await startRedisServer({ dir: resolve(base, role), noeviction: role === 'queue' });
    return { url: s.url, pids: [s.pid], dir: s.dir, stop: () => s.stop() };
  }
  const dir = resolve(base, `${topology}-${role}`);
  rmSync(dir, { recursive: true, force: true });
  if (topology === 'cluster') {
    const c = await startRedisCluster({ dir, extraConfig });
    return { url: c.url, pids: c.nodes.map((n) => n.pid), dir, stop: () => c.stop() };
  }
  const set = await startSentinelSet({ dir, extraConfig, masterName: `kvq-${role}` });
  return {
    url: set.url,
    pids: [...set.servers, ...set.sentinels].map((s) => s.pid),
    dir,
    stop: () => set.stop(),
  };
}

/**
 * `kvq dev`: the whole stack in one command. Without QUEUE_REDIS_URL/KV_REDIS_URL it starts the
 * queue and the data Redis itself, on free loopback ports with their data under DEV_DATA_DIR, in
 * the chosen topology (two separate clusters or Sentinel sets, as production would have: the two
 * Redis must not share a failure), then the API and DEV_WORKERS workers in this process.
 */
export async function startDev(
  config: Config,
  logger: Logger,
  lifecycle: Lifecycle,
  opts: { topology?: DevTopology } = {},
) {
  const topology = opts.topology ?? 'standalone';
  let queueUrl = config.QUEUE_REDIS_URL;
  let kvUrl = config.KV_REDIS_URL;
  if (!queueUrl || !kvUrl) {
    if (!redisServerAvailable()) throw new MissingRedisError(REDIS_INSTALL_HINT);
    if (topology === 'cluster' && !redisServerAvailable('redis-cli')) {
      throw new MissingRedisError(`--topology cluster needs redis-cli; ${REDIS_INSTALL_HINT}`);
    }
    const base = resolve(config.DEV_DATA_DIR);
    const started = await Promise.allSettled([
      queueUrl ? undefined : startLocalRedis(topology, 'queue', base),
      kvUrl ? undefined : startLocalRedis(topology, 'data', base),
    ]);
    const [queue, data] = started.map((r) => (r.status === 'fulfilled' ? r.value : undefined));
    // Registered first, so closed last: after the API and worker are done with them.
    lifecycle.register('redis-servers', async () => {
      await Promise.all([queue?.stop(), data?.stop()]);
    });
    const failed = started.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
    for (const [which, r] of [
      ['queue', queue],
      ['data', data],
    ] as const) {
      if (!r) continue;
      // Standalone keeps the log line it always had (scripts and tests read its pid).
      if (topology === 'standalone') {
        logger.info({ url: r.url, pid: r.pids[0], dir: r.dir }, `${which} redis-server started`);
      } else {
        logger.info({ url: r.url, pids: r.pids, dir: r.dir }, `${which} Redis ${topology} started`);
      }
    }
    queueUrl ??= queue?.url;
    kvUrl ??= data?.url;
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
