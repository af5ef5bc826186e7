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
      // No `commandTimeout`: it arms a timer per command (measured: ~5 % of throughput, and the
      // garbage kept the API's young generation ~60 MB larger). watchStalls does the same job.
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
  if (kind === 'command') watchStalls(client, config.REDIS_COMMAND_TIMEOUT_MS);
  return client;
}

/**
 * Fail-fast for a Redis that stops answering (a hung process, a network black hole) without a
 * timer per command. Replies come back in order, so when the oldest command waiting for a reply
 * has been the same one for `timeoutMs`, nothing has been answered for that long: every command
 * still waiting is failed with ioredis' own "Command timed out" (transient: 503 + Retry-After,
 * or a retry in a worker), as `commandTimeout` would have done. A command sent just before that
 * moment fails early, which is what a caller of a stuck connection wants. Checked every quarter
 * of the timeout, so a stuck command fails within 1.25 × REDIS_COMMAND_TIMEOUT_MS.
 */
export function watchStalls(client: Redis, timeoutMs: number): void {
  let head: unknown;
  let since = 0;
  const timer = setInterval(
    () => {
      const front = client.commandQueue.peekFront();
      const now = Date.now();
      if (front === undefined || front !== head) {
        head = front;
        since = now;
        return;
      }
      if (now - since < timeoutMs) return;
      head = undefined;
      for (const item of client.commandQueue.toArray()) {
        item.command.reject(new Error('Command timed out'));
      }
    },
    Math.max(25, Math.floor(timeoutMs / 4)),
  );
  timer.unref();
  client.once('end', () => {
    clearInterval(timer);
  });
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
