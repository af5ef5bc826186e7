import { randomBytes } from 'node:crypto';

import { type JobType, Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { inject } from 'vitest';

import { startApi } from '../../src/bin/api.ts';
import { layoutOf } from '../../src/bin/stores.ts';
import { startWorker, type WorkerHandle } from '../../src/bin/worker.ts';
import {
  type Config,
  createLifecycle,
  createLogger,
  type DataKeys,
  type JobPayload,
  type KeyLayout,
  loadConfig,
  parseRedisUrl,
  type QueueKeys,
  type Tracer,
} from '../../src/core/index.ts';

export interface Stack {
  url: string;
  config: Config;
  queueUrl: string;
  kvUrl: string;
  /** Start a worker in this process (tests may start it late to keep writes pending). */
  startWorker(): Promise<WorkerHandle>;
  /**
   * Plain clients for asserting on Redis state directly. Only for standalone URLs: with a
   * `redis+cluster://` or `redis+sentinel://` URL they are never connected (build a client for
   * that topology instead, e.g. createRedisClient).
   */
  queueRedis: Redis;
  kvRedis: Redis;
  /** The stack's key layout, and shortcuts to the keys of a user key's or an op's partition. */
  layout: KeyLayout;
  queueKeysOf(key: string): QueueKeys;
  dataKeysOf(key: string): DataKeys;
  queueKeysOfOp(opId: string): QueueKeys;
  /** The BullMQ queue name of a user key's partition. */
  queueNameOf(key: string): string;
  /** Accepted, unfinished ops over all partitions (the ledger's open sets). */
  openCount(): Promise<number>;
  stop(): Promise<void>;
}

/**
 * The real composition roots (API and worker) wired to real Redis, with a unique key prefix and
 * queue name so test files never see each other's data.
 */
export async function startStack(
  opts: {
    worker?: boolean;
    env?: Record<string, string>;
    queueUrl?: string;
    kvUrl?: string;
    /** Tracers for the API and the worker (unset: tracing off there). */
    tracing?: { api?: Tracer; worker?: Tracer };
    /** Where log lines go (default: stdout at TEST_LOG_LEVEL, silent unless set). */
    logDestination?: { write(line: string): unknown };
  } = {},
): Promise<Stack> {
  const id = randomBytes(4).toString('hex');
  const queueUrl = opts.queueUrl ?? inject('queueRedisUrl');
  const kvUrl = opts.kvUrl ?? inject('kvRedisUrl');
  const config = loadConfig({
    QUEUE_REDIS_URL: queueUrl,
    KV_REDIS_URL: kvUrl,
    HOST: '127.0.0.1',
    PORT: '0',
    KEY_PREFIX: `t${id}:`,
    QUEUE_NAME: `q${id}`,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    SHUTDOWN_TIMEOUT_MS: '5000',
    WORKER_CONCURRENCY: '16',
    WORKER_HEALTH_PORT: '0',
    ...opts.env,
  });
  const logger = opts.logDestination
    ? createLogger(config.LOG_LEVEL, 'test', { format: 'json', destination: opts.logDestination })
    : createLogger(config.LOG_LEVEL, 'test');
  const lifecycle = createLifecycle({ deadlineMs: 10_000, logger });
  const urls = { queueUrl, kvUrl };
  const api = await startApi(config, urls, logger, lifecycle, undefined, opts.tracing?.api);
  // ioredis would read a cluster or Sentinel URL's scheme as a host name and retry it forever.
  const plain = (url: string) =>
    new Redis(url, { lazyConnect: parseRedisUrl(url).kind !== 'standalone' });
  const queueRedis = plain(queueUrl);
  const kvRedis = plain(kvUrl);
  queueRedis.on('error', () => undefined);
  kvRedis.on('error', () => undefined);
  lifecycle.register('test-clients', () => {
    queueRedis.disconnect();
    kvRedis.disconnect();
  });
  const layout = layoutOf(config);
  const stack: Stack = {
    layout,
    queueKeysOf: (key) => layout.queue(layout.of(key)),
    dataKeysOf: (key) => layout.data(layout.of(key)),
    queueKeysOfOp: (opId) => layout.queue(layout.ofOp(opId) ?? 0),
    queueNameOf: (key) => layout.queueName(layout.of(key)),
    async openCount() {
      let n = 0;
      for (let i = 0; i < layout.count; i++) n += await queueRedis.zcard(layout.queue(i).open);
      return n;
    },
    url: api.url,
    config,
    queueUrl,
    kvUrl,
    startWorker: () =>
      startWorker(config, urls, logger, lifecycle, undefined, opts.tracing?.worker),
    queueRedis,
    kvRedis,
    async stop() {
      await lifecycle.shutdown('test done');
    },
  };
  if (opts.worker !== false) await stack.startWorker();
  return stack;
}

export const json = { 'Content-Type': 'application/json' };

/** fetch against the stack; returns status, headers and parsed body (JSON or problem+json). */
export async function call(
  base: string,
  method: string,
  path: string,
  init: { body?: unknown; rawBody?: string; headers?: Record<string, string> } = {},
) {
  const headers: Record<string, string> = { ...init.headers };
  let body: string | undefined = init.rawBody;
  if (init.body !== undefined) {
    body = JSON.stringify(init.body);
    headers['Content-Type'] ??= 'application/json';
  }
  const res = await fetch(base + path, { method, headers, body });
  const text = await res.text();
  let parsed: any = undefined;
  if (text && /json/.test(res.headers.get('content-type') ?? '')) parsed = JSON.parse(text);
  return { status: res.status, headers: res.headers, body: parsed, text };
}

/** Polls until fn() is truthy or ms pass. */
export async function eventually<T>(
  fn: () => T | Promise<T>,
  ms = 10_000,
  stepMs = 25,
): Promise<T> {
  const end = Date.now() + ms;
  let last: T = await fn();
  while (!last && Date.now() < end) {
    await new Promise((r) => setTimeout(r, stepMs));
    last = await fn();
  }
  return last;
}

/** fn()'s result and how long it took, in ms. */
export async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t = performance.now();
  const r = await fn();
  return [r, performance.now() - t];
}

/** BullMQ producers for every partition's queue of a stack, for tests that add or count jobs. */
export function partitionQueues(layout: KeyLayout, queueUrl: string) {
  const queues = Array.from(
    { length: layout.count },
    (_, i) =>
      new Queue<JobPayload>(layout.queueName(i), {
        connection: { url: queueUrl },
        // An observer must not reset the queue's settings (EVENT_STREAM_MAX_LEN).
        skipMetasUpdate: true,
      }),
  );
  const sum = async (...states: JobType[]) => {
    const counts = await Promise.all(queues.map((q) => q.getJobCounts(...states)));
    return counts.reduce((n, c) => n + Object.values(c).reduce((a, b) => a + b, 0), 0);
  };
  return {
    /** The queue of a user key's partition. */
    of: (key: string) => queues[layout.of(key)] as Queue<JobPayload>,
    /** Jobs in these states, summed over the partitions. */
    count: sum,
    close: () => Promise.all(queues.map((q) => q.close())),
  };
}
