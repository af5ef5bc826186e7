import { Cluster, type ClusterOptions, Redis, type RedisOptions } from 'ioredis';

import { type Config, parseRedisUrl, type RedisTarget } from '../core/index.ts';

/** A standalone or Sentinel-managed Redis (`Redis`), or a Redis Cluster (`Cluster`). */
export type RedisClient = Redis | Cluster;

/**
 * `command`: request/response clients (API and worker bookkeeping). They fail fast: no offline
 * queue, one retry, connect and command timeouts, so a dead Redis costs a request ~1.5 s at most.
 * `blocking`: BullMQ's worker connection, which must retry forever (BullMQ requires
 * maxRetriesPerRequest: null). `subscriber`: pub/sub for `Prefer: wait` (on a cluster it also
 * keeps one sharded subscriber per primary, for SSUBSCRIBE).
 */
export type ClientKind = 'command' | 'blocking' | 'subscriber';

const retryStrategy = (times: number) => Math.min(50 * 2 ** Math.min(times, 5), 1000);

/**
 * A primary demoted by a Sentinel failover (or a managed service's endpoint that moved) answers
 * writes with READONLY: reconnect, which asks the Sentinels for the new primary. `true`, not 2:
 * 2 would resend the command after reconnecting, and kvq's Lua scripts are not idempotent (the
 * failed command reaches its caller as a transient error, 503 or a worker retry, instead).
 */
export function reconnectOnReadonly(err: Error): boolean {
  return /^READONLY\b/.test(err.message);
}

/**
 * Builds the ioredis client for `url`'s topology (standalone, Sentinel or cluster; see
 * core/redis-url.ts) with the options of `kind`.
 */
export function createRedisClient(
  url: string,
  kind: ClientKind,
  config: Config,
  name: string,
): RedisClient {
  const target = parseRedisUrl(url);
  const common: RedisOptions = {
    connectionName: `kvq-${name}`,
    connectTimeout: config.REDIS_CONNECT_TIMEOUT_MS,
  };
  const byKind: Record<ClientKind, RedisOptions> = {
    command: {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      // No `commandTimeout`: it arms a timer per command, which costs throughput and garbage;
      // watchStalls does the same job. No auto-pipelining: it defers every command to
      // setImmediate, which leaves the API idle waiting on its own batches and makes writes
      // slower. See BENCHMARKS.md.
      enableAutoPipelining: false,
    },
    blocking: { maxRetriesPerRequest: null, enableOfflineQueue: true },
    subscriber: { maxRetriesPerRequest: 1, enableOfflineQueue: true },
  };
  let client: RedisClient;
  if (target.kind === 'cluster') {
    client = new Cluster(target.nodes, clusterOptions(target, common, byKind[kind], kind));
  } else {
    const options: RedisOptions = {
      ...common,
      ...byKind[kind],
      retryStrategy,
      reconnectOnError: reconnectOnReadonly,
      ...sentinelOptions(target, config),
    };
    client = target.kind === 'standalone' ? new Redis(target.url, options) : new Redis(options);
  }
  // Errors surface on the commands that hit them; an unhandled 'error' event would crash.
  client.on('error', () => undefined);
  if (kind === 'command') watchStalls(client, config.REDIS_COMMAND_TIMEOUT_MS);
  return client;
}

function sentinelOptions(target: RedisTarget, config: Config): RedisOptions {
  if (target.kind !== 'sentinel') return {};
  const tls = target.tls ? { tls: {}, sentinelTLS: {}, enableTLSForSentinelMode: true } : {};
  return {
    sentinels: target.sentinels,
    name: target.masterName,
    ...(target.username === undefined ? {} : { username: target.username }),
    ...(target.password === undefined ? {} : { password: target.password }),
    ...(config.SENTINEL_PASSWORD === undefined
      ? {}
      : { sentinelPassword: config.SENTINEL_PASSWORD }),
    ...(target.db === undefined ? {} : { db: target.db }),
    sentinelCommandTimeout: config.REDIS_COMMAND_TIMEOUT_MS,
    // Subscribes to the Sentinels' +switch-master and drops the connection at once on a
    // failover, instead of waiting for the old primary to fail a command.
    failoverDetector: true,
    ...tls,
  };
}

function clusterOptions(
  target: Extract<RedisTarget, { kind: 'cluster' }>,
  common: RedisOptions,
  forKind: RedisOptions,
  kind: ClientKind,
): ClusterOptions {
  return {
    // The offline queue belongs to the cluster object, not to its node connections.
    enableOfflineQueue: forKind.enableOfflineQueue ?? true,
    enableAutoPipelining: forKind.enableAutoPipelining ?? false,
    // Reads see the writes that were just applied: every command goes to the slot's primary.
    scaleReads: 'master',
    slotsRefreshTimeout: common.connectTimeout ?? 1000,
    clusterRetryStrategy: retryStrategy,
    shardedSubscribers: kind === 'subscriber',
    redisOptions: {
      ...common,
      maxRetriesPerRequest: forKind.maxRetriesPerRequest ?? null,
      ...(target.username === undefined ? {} : { username: target.username }),
      ...(target.password === undefined ? {} : { password: target.password }),
      ...(target.tls ? { tls: {} } : {}),
    },
  };
}

/**
 * Fail-fast for a Redis that stops answering (a hung process, a network black hole) without a
 * timer per command. Replies come back in order, so when the oldest command waiting for a reply
 * has been the same one for `timeoutMs`, nothing has been answered for that long: every command
 * still waiting is failed with ioredis' own "Command timed out" (transient: 503 + Retry-After,
 * or a retry in a worker), as `commandTimeout` would have done. A command sent just before that
 * moment fails early, which is what a caller of a stuck connection wants. Checked every quarter
 * of the timeout, so a stuck command fails within 1.25 × REDIS_COMMAND_TIMEOUT_MS.
 *
 * A standalone or Sentinel client has one connection to watch. A cluster client has one per node,
 * and nodes come and go with failovers and resharding: every check watches the connections
 * `cluster.nodes('all')` lists at that moment, each on its own. (Commands a cluster holds back
 * between retries of a failover, in no node's queue, end by its own retry limits.)
 */
export function watchStalls(client: RedisClient, timeoutMs: number): void {
  const watched = new Map<Redis, { head: unknown; since: number }>();
  const check = (conn: Redis, now: number) => {
    const front = conn.commandQueue.peekFront();
    const seen = watched.get(conn);
    if (!seen || front === undefined || front !== seen.head) {
      watched.set(conn, { head: front, since: now });
      return;
    }
    if (now - seen.since < timeoutMs) return;
    watched.set(conn, { head: undefined, since: now });
    for (const item of conn.commandQueue.toArray()) {
      item.command.reject(new Error('Command timed out'));
    }
  };
  const timer = setInterval(
    () => {
      const now = Date.now();
      const conns = client instanceof Cluster ? client.nodes('all') : [client];
      for (const conn of conns) check(conn, now);
      if (watched.size > conns.length) {
        const live = new Set(conns);
        for (const conn of watched.keys()) if (!live.has(conn)) watched.delete(conn);
      }
    },
    Math.max(25, Math.floor(timeoutMs / 4)),
  );
  timer.unref();
  client.once('end', () => {
    clearInterval(timer);
  });
}

/** Waits until the client (a cluster: its slots are known) is ready or `ms` passes; never throws. */
export async function waitReady(client: RedisClient, ms: number): Promise<boolean> {
  if (client.status === 'ready') return true;
  return new Promise((resolve) => {
    const done = (ok: boolean) => {
      clearTimeout(timer);
      client.off('ready', onReady);
      resolve(ok);
    };
    const onReady = () => {
      done(true);
    };
    const timer = setTimeout(() => {
      done(false);
    }, ms);
    client.once('ready', onReady);
  });
}

export async function closeClient(client: RedisClient): Promise<void> {
  try {
    await client.quit();
  } catch {
    client.disconnect();
  }
}

/**
 * Runs `fn` once per primary: for standalone and Sentinel that is the client itself, for a
 * cluster each master node's connection (what SCAN, INFO, DBSIZE or FLUSHDB need, since on a
 * cluster each of those sees one node only). A cluster that is not ready yet is waited for (up to
 * `readyMs`), so its masters are known; one that stays unready is an error.
 */
export async function forEachMaster<T>(
  client: RedisClient,
  fn: (master: Redis) => Promise<T>,
  readyMs = 5000,
): Promise<T[]> {
  if (!(client instanceof Cluster)) return [await fn(client)];
  if (!(await waitReady(client, readyMs))) {
    throw new Error("Cluster isn't ready: its masters are not known yet");
  }
  return Promise.all(client.nodes('master').map(fn));
}
