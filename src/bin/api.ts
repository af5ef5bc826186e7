import { createServer, type Server } from 'node:http';
import type { Duplex } from 'node:stream';

import { getRequestListener } from '@hono/node-server';

import {
  type ApiDeps,
  createApp,
  createOpWaiter,
  createRawPaths,
  rawProblemResponse,
  requestErrorResponse,
  type Subscriber,
} from '../api/index.ts';
import { AppError, type Config, JOB_NAME, type Lifecycle, type Logger } from '../core/index.ts';
import { createDeadLetters } from '../store/index.ts';
import { createAcceptAndEnqueue } from './accept-enqueue.ts';
import { jobOptions } from './job-options.ts';
import { createQueueHandle, type QueueHandle } from './queue-handle.ts';
import { closeClient, createRedisClient, waitReady } from './redis-clients.ts';
import { createStores } from './stores.ts';

export interface ApiHandle {
  url: string;
  port: number;
  server: Server;
}

/** Composition root of the API role. Registers its closers on `lifecycle`. */
export async function startApi(
  config: Config,
  urls: { queueUrl: string; kvUrl: string },
  logger: Logger,
  lifecycle: Lifecycle,
): Promise<ApiHandle> {
  const queueRedis = createRedisClient(urls.queueUrl, 'command', config, 'api-queue');
  const kvRedis = createRedisClient(urls.kvUrl, 'command', config, 'api-data');
  const subRedis = createRedisClient(urls.queueUrl, 'subscriber', config, 'api-sub');
  lifecycle.register('redis', async () => {
    await Promise.all([closeClient(queueRedis), closeClient(kvRedis), closeClient(subRedis)]);
  });
  const [q, d] = await Promise.all([waitReady(queueRedis, 5000), waitReady(kvRedis, 5000)]);
  if (!q) logger.warn('queue Redis not reachable yet; serving anyway (writes answer 503)');
  if (!d) logger.warn('data Redis not reachable yet; serving anyway (reads answer 503)');

  const queue = createQueueHandle(config.QUEUE_NAME, queueRedis);
  lifecycle.register('queue', () => queue.close());

  const { ledger, records } = createStores(config, queueRedis, kvRedis);
  const handlers: ((channel: string) => void)[] = [];
  subRedis.on('message', (channel: string) => {
    for (const h of handlers) h(channel);
  });
  const subscriber: Subscriber = {
    subscribe: async (ch) => {
      await subRedis.subscribe(ch);
    },
    unsubscribe: async (ch) => {
      await subRedis.unsubscribe(ch);
    },
    onMessage: (h) => handlers.push(h),
  };
  const opts = jobOptions(config);
  const deps: ApiDeps = {
    ledger,
    records,
    deadLetters: createDeadLetters({ redis: queueRedis, prefix: config.KEY_PREFIX }),
    enqueue: async (payload, jobId) => {
      await queue.get().add(JOB_NAME, payload, { ...opts, jobId });
    },
    acceptAndEnqueue: createAcceptAndEnqueue(queueRedis, queue, ledger, opts),
    backlog: cachedBacklog(queue),
    maxBacklog: config.MAX_BACKLOG,
    waiter: createOpWaiter({ ledger, subscriber }),
    logger,
    limits: { maxKeyBytes: config.MAX_KEY_BYTES, maxValueBytes: config.MAX_VALUE_BYTES },
    readAfterWaitMs: config.READ_AFTER_WAIT_MS,
    docsEnabled: config.DOCS_ENABLED,
    apiTokens: config.API_TOKENS,
    isShuttingDown: () => lifecycle.shuttingDown,
  };
  const app = createApp(deps);
  // The hot `GET` and `PUT /v1/keys/{key}` are answered without Hono in the plain case (see
  // raw-paths.ts); every other request goes to Hono.
  const rawPaths = createRawPaths(deps);

  // getRequestListener rather than serve(): it takes an errorHandler, so requests the adapter
  // cannot even turn into a Request (e.g. `POST *`) still get a problem+json 400.
  const listener = getRequestListener(app.fetch, {
    hostname: config.HOST,
    errorHandler: () => requestErrorResponse(),
  });
  const server = createServer({ requestTimeout: 60_000, headersTimeout: 20_000 }, (req, res) => {
    if (!rawPaths(req, res)) void listener(req, res);
  });
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    if (socket.writable) socket.end(rawProblemResponse(err.code));
    else socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.PORT, config.HOST, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.PORT;
  lifecycle.register('http', () => closeServer(server));
  const host = config.HOST === '0.0.0.0' || config.HOST === '::' ? '127.0.0.1' : config.HOST;
  const url = `http://${host}:${String(port)}`;
  logger.info({ url }, 'api listening');
  return { url, port, server };
}

/**
 * The waiting count, shared by concurrent requests and reused for 250 ms: backpressure needs an
 * approximate number, not one more round trip per write.
 */
function cachedBacklog(queue: QueueHandle): () => Promise<number> {
  let value = 0;
  let at = 0;
  let inflight: Promise<number> | undefined;
  return () => {
    if (Date.now() - at < 250) return Promise.resolve(value);
    inflight ??= Promise.resolve()
      .then(() => queue.get().getWaitingCount())
      .then((n) => {
        value = n;
        at = Date.now();
        return n;
      })
      .catch((err: unknown) => {
        throw new AppError('QUEUE_UNAVAILABLE', `queue Redis: ${(err as Error).message}`, {
          cause: err,
          headers: { 'Retry-After': '1' },
        });
      })
      .finally(() => {
        inflight = undefined;
      });
    return inflight;
  };
}

/** Stops accepting connections and waits for in-flight requests; idle keep-alives are closed. */
function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => {
      resolve();
    });
    if ('closeIdleConnections' in server) server.closeIdleConnections();
  });
}
