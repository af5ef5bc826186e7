import { Redis, type RedisOptions } from 'ioredis';

import type { Config } from '../core/index.ts';

/**
 * `command`: request/response clients (API and worker bookkeeping). They fail fast: no offline
 * queue, one retry, connect and command timeouts, so a dead Redis costs a request ~1.5 s at most.
 * `blocking`: BullMQ's worker connection, which must retry forever (BullMQ requires
 * maxRetriesPerRequest: null). `subscriber`: pub/sub for `Prefer: wait`.
 */
export type ClientKind = 'command' | 'blocking' | 'subscriber';

export function createRedisClient(
  url: string,
  kind: ClientKind,
  config: Config,
  name: string,
): Redis {
  const common: RedisOptions = {
    connectionName: `kvq-${name}`,
    connectTimeout: config.REDIS_CONNECT_TIMEOUT_MS,
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 5), 1000),
  };
  const byKind: Record<ClientKind, RedisOptions> = {
    command: {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      commandTimeout: config.REDIS_COMMAND_TIMEOUT_MS,
      // No auto-pipelining: it defers every command to setImmediate, and measured here it left
      // the API idle a third of the time waiting on its own batches (PUT 7.6k/s without it,
      // 6.3k/s with; reads the same either way). See BENCHMARKS.md.
      enableAutoPipelining: false,
    },
    blocking: { maxRetriesPerRequest: null, enableOfflineQueue: true },
    subscriber: { maxRetriesPerRequest: 1, enableOfflineQueue: true },
  };
  const client = new Redis(url, { ...common, ...byKind[kind] });
  // Errors surface on the commands that hit them; an unhandled 'error' event would crash.
  client.on('error', () => undefined);
  return client;
}

/** Waits until the client is ready or `ms` passes; never throws. */
export async function waitReady(client: Redis, ms: number): Promise<boolean> {
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

export async function closeClient(client: Redis): Promise<void> {
  try {
    await client.quit();
  } catch {
    client.disconnect();
  }
}
