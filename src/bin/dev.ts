import { rmSync } from 'node:fs';
import { resolve } from 'node:path';

import type { Config, Lifecycle, Logger, Tracer } from '../core/index.ts';
import type { Metrics } from '../metrics/index.ts';
import {
  type ChildWatchdog,
  ContainerStartError,
  findContainerEngine,
  REDIS_IMAGE,
  REDIS_INSTALL_HINT,
  redisServerAvailable,
  startChildWatchdog,
  startRedisCluster,
  startRedisContainer,
  startRedisServer,
  startSentinelSet,
} from '../redis/index.ts';
import { startApi } from './api.ts';
import { lockDataDir } from './data-dir-lock.ts';
import { checkPortFree, checkRedisReachable, StartupError } from './startup-checks.ts';
import { startWorker } from './worker.ts';

export { StartupError };

export const DEV_TOPOLOGIES = ['standalone', 'cluster', 'sentinel'] as const;
export type DevTopology = (typeof DEV_TOPOLOGIES)[number];

/** Where `kvq dev` gets its two Redis from, decided before anything starts. */
export type DevRedisSource =
  { kind: 'urls' } | { kind: 'redis-server' } | { kind: 'container'; engine: string };

/** A local Redis `kvq dev` started: its URL and how to end it. */
interface LocalRedis {
  url: string;
  pids: number[];
  dir: string;
  stop(): Promise<void>;
}

/**
 * Everything `kvq dev` can find wrong before it starts a process: the API port, where the Redis
 * come from, and whether configured Redis URLs answer. Throws a StartupError whose message is
 * one line saying what to change.
 */
export async function preflightDev(
  config: Config,
  opts: { topology?: DevTopology } = {},
): Promise<DevRedisSource> {
  await checkPortFree(config.HOST, config.PORT);
  const timeout = Math.max(1000, config.REDIS_CONNECT_TIMEOUT_MS);
  const configured = [
    ['queue', 'QUEUE_REDIS_URL', config.QUEUE_REDIS_URL],
    ['data', 'KV_REDIS_URL', config.KV_REDIS_URL],
  ] as const;
  for (const [which, name, url] of configured) {
    if (url) await checkRedisReachable(which, name, url, timeout);
  }
  if (config.QUEUE_REDIS_URL && config.KV_REDIS_URL) return { kind: 'urls' };
  const topology = opts.topology ?? 'standalone';
  if (redisServerAvailable()) {
    if (topology === 'cluster' && !redisServerAvailable('redis-cli')) {
      throw new StartupError(`--topology cluster needs redis-cli; ${REDIS_INSTALL_HINT}`);
    }
    return { kind: 'redis-server' };
  }
  const engine = topology === 'standalone' ? findContainerEngine() : undefined;
  if (engine) return { kind: 'container', engine };
  throw new StartupError(REDIS_INSTALL_HINT);
}

/**
 * Starts the queue or data Redis of `kvq dev` in the chosen topology. Standalone keeps its data
 * under DEV_DATA_DIR across runs (AOF). A cluster (3 primaries + 3 replicas) or a Sentinel set
 * (primary + 2 replicas + 3 Sentinels) starts empty every run: its directory is cleared first,
 * since nodes.conf and sentinel.conf name the last run's ports. The queue Redis is noeviction.
 * Every process is reported to the watchdog as soon as it is spawned.
 */
async function startLocalRedis(
  topology: DevTopology,
  role: 'queue' | 'data',
  base: string,
  watchdog: ChildWatchdog,
): Promise<LocalRedis> {
  const extraConfig = role === 'queue' ? ['--maxmemory-policy', 'noeviction'] : [];
  const onSpawn = (pid: number) => {
    watchdog.watchPid(pid);
  };
  if (topology === 'standalone') {
    const s = await startRedisServer({
      dir: resolve(base, role),
      noeviction: role === 'queue',
      onSpawn,
    });
    return { url: s.url, pids: [s.pid], dir: s.dir, stop: () => s.stop() };
  }
  const dir = resolve(base, `${topology}-${role}`);
  rmSync(dir, { recursive: true, force: true });
  if (topology === 'cluster') {
    const c = await startRedisCluster({ dir, extraConfig, onSpawn });
    return { url: c.url, pids: c.nodes.map((n) => n.pid), dir, stop: () => c.stop() };
  }
  const set = await startSentinelSet({ dir, extraConfig, masterName: `kvq-${role}`, onSpawn });
  return {
    url: set.url,
    pids: [...set.servers, ...set.sentinels].map((s) => s.pid),
    dir,
    stop: () => set.stop(),
  };
}

/** The same, in a container of `engine` (standalone only; its data lives only as long as it). */
async function startContainerRedis(
  engine: string,
  role: 'queue' | 'data',
  watchdog: ChildWatchdog,
): Promise<LocalRedis> {
  const name = `kvq-dev-${role}-${String(process.pid)}`;
  watchdog.watchContainer(name);
  try {
    const c = await startRedisContainer({ engine, name, noeviction: role === 'queue' });
    return { url: c.url, pids: [], dir: `${engine} container ${name}`, stop: () => c.stop() };
  } catch (err) {
    if (!(err instanceof ContainerStartError)) throw err;
    throw new StartupError(
      `${engine} could not start ${REDIS_IMAGE} (${err.message}); ${REDIS_INSTALL_HINT}`,
    );
  }
}

/**
 * Sends this process SIGTERM once its parent is gone (e.g. `npm start` killed with -9 leaves kvq
 * running on its own), so it stops its children the usual way instead of running on unseen.
 */
function stopWhenOrphaned(lifecycle: Lifecycle): void {
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid !== parent) process.kill(process.pid, 'SIGTERM');
  }, 1000);
  timer.unref();
  lifecycle.register('orphan-watch', () => {
    clearInterval(timer);
  });
}

/**
 * `kvq dev`: the whole stack in one command. Without QUEUE_REDIS_URL/KV_REDIS_URL it starts the
 * queue and the data Redis itself, on free loopback ports with their data under DEV_DATA_DIR, in
 * the chosen topology (two separate clusters or Sentinel sets, as production would have: the two
 * Redis must not share a failure), or without redis-server in two containers; then the API and
 * DEV_WORKERS workers in this process. The Redis children run in their own process group, so a
 * Ctrl-C reaches only kvq, which stops them after the API and workers have drained; a watchdog
 * ends them if kvq dies without doing so.
 */
export async function startDev(
  config: Config,
  logger: Logger,
  lifecycle: Lifecycle,
  opts: {
    topology?: DevTopology;
    source?: DevRedisSource;
    metrics?: Metrics;
    tracer?: Tracer | undefined;
  } = {},
) {
  const topology = opts.topology ?? 'standalone';
  const source = opts.source ?? (await preflightDev(config, opts));
  let queueUrl = config.QUEUE_REDIS_URL;
  let kvUrl = config.KV_REDIS_URL;
  stopWhenOrphaned(lifecycle);
  if (source.kind !== 'urls') {
    const watchdog = startChildWatchdog(source.kind === 'container' ? source.engine : undefined);
    const base = resolve(config.DEV_DATA_DIR);
    // Containers keep their data inside them; redis-server children keep theirs under base.
    if (source.kind === 'redis-server') {
      // Registered before the Redis children, so released after they have stopped.
      lifecycle.register('data-dir-lock', lockDataDir(base, config.DEV_DATA_DIR));
    }
    const start = (role: 'queue' | 'data') =>
      source.kind === 'container'
        ? startContainerRedis(source.engine, role, watchdog)
        : startLocalRedis(topology, role, base, watchdog);
    const started = await Promise.allSettled([
      queueUrl ? undefined : start('queue'),
      kvUrl ? undefined : start('data'),
    ]);
    const [queue, data] = started.map((r) => (r.status === 'fulfilled' ? r.value : undefined));
    // Registered first, so closed last: after the API and worker are done with them.
    lifecycle.register('redis-servers', async () => {
      await Promise.all([queue?.stop(), data?.stop()]);
      watchdog.close();
    });
    const failed = started.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
    for (const [which, r] of [
      ['queue', queue],
      ['data', data],
    ] as const) {
      if (!r) continue;
      if (source.kind === 'container') {
        logger.info({ url: r.url, container: r.dir }, `${which} Redis container started`);
      } else if (topology === 'standalone') {
        logger.info(
          { url: r.url, redisPid: r.pids[0], dir: r.dir },
          `${which} redis-server started`,
        );
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
    await startWorker(workerConfig, urls, logger, lifecycle, opts.metrics, opts.tracer);
  }
  const api = await startApi(config, urls, logger, lifecycle, opts.metrics, opts.tracer);
  return { ...api, ...urls };
}
