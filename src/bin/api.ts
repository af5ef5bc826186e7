import { createServer, type Server } from 'node:http';
import type { Duplex } from 'node:stream';

import { getRequestListener } from '@hono/node-server';

import {
  type Admission,
  type ApiDeps,
  type Authenticator,
  createAdmission,
  createApp,
  createAuthenticator,
  createKeysFile,
  createOpWaiter,
  createRateLimiter,
  createRawPaths,
  type KeysFile,
  rawProblemResponse,
  requestErrorResponse,
  type Subscriber,
  trustedProxies,
} from '../api/index.ts';
import {
  activeTraceId,
  apiKeyKeys,
  AppError,
  type Config,
  createPeriodic,
  isLoopback,
  JOB_NAME,
  type Lifecycle,
  type Logger,
  type Tracer,
} from '../core/index.ts';
import type { Metrics } from '../metrics/index.ts';
import {
  createAcceptAndEnqueue,
  createQueueHandles,
  jobOptions,
  traceAcceptAndEnqueue,
  traceEnqueue,
} from '../queue/index.ts';
import { closeClient, createRedisClient, memoryProbe, type RedisClient } from '../redis/index.ts';
import { type ApiKeyStore, createApiKeyStore, guard, type Ledger } from '../store/index.ts';
import { watchQueue, watchRedis } from './metrics.ts';
import { awaitRedis } from './redis-reachability.ts';
import { createStores, enforcePartitionCount } from './stores.ts';

/** How often the write admission reads both Redis' memory and the unfinished count. */
const ADMISSION_REFRESH_MS = 1000;

export interface ApiHandle {
  /** Where a client on this machine reaches it. */
  url: string;
  /** The address and port it is bound to, e.g. 0.0.0.0:8080 (every interface). */
  listening: string;
  port: number;
  server: Server;
}

/** Composition root of the API role. Registers its closers on `lifecycle`. */
export async function startApi(
  config: Config,
  urls: { queueUrl: string; kvUrl: string },
  logger: Logger,
  lifecycle: Lifecycle,
  metrics?: Metrics,
  tracer?: Tracer,
): Promise<ApiHandle> {
  const queueRedis = createRedisClient(urls.queueUrl, 'command', config, 'api-queue');
  const kvRedis = createRedisClient(urls.kvUrl, 'command', config, 'api-data');
  const subRedis = createRedisClient(urls.queueUrl, 'subscriber', config, 'api-sub');
  lifecycle.register('redis', async () => {
    await Promise.all([closeClient(queueRedis), closeClient(kvRedis), closeClient(subRedis)]);
  });
  await Promise.all([
    awaitRedis(
      queueRedis,
      'queue',
      urls.queueUrl,
      5000,
      logger,
      'serving anyway (writes answer 503)',
    ),
    awaitRedis(kvRedis, 'data', urls.kvUrl, 5000, logger, 'serving anyway (reads answer 503)'),
  ]);

  const { layout, ledger, records, deadLetters, auditLog } = createStores(
    config,
    queueRedis,
    kvRedis,
  );
  const queueLayout = await enforcePartitionCount(queueRedis, layout, 'queue', logger, lifecycle);
  const dataLayout = await enforcePartitionCount(kvRedis, layout, 'data', logger, lifecycle);
  const queues = createQueueHandles(layout, queueRedis);
  lifecycle.register('queue', () => queues.close());

  // Sharded pub/sub: an op's done channel carries its partition's tag (finish.lua SPUBLISHes it),
  // so on a cluster only the node that owns the partition carries its messages.
  const handlers: ((channel: string) => void)[] = [];
  subRedis.on('smessage', (channel: string) => {
    for (const h of handlers) h(channel);
  });
  const subscriber: Subscriber = {
    subscribe: async (ch) => {
      await subRedis.ssubscribe(ch);
    },
    unsubscribe: async (ch) => {
      await subRedis.sunsubscribe(ch);
    },
    onMessage: (h) => handlers.push(h),
  };
  const opts = jobOptions(config);
  const enqueue: ApiDeps['enqueue'] = async (payload, jobId) => {
    // A full queue Redis is a 503 QUEUE_FULL, not a 500 (see store/guard.ts).
    await guard(
      Promise.resolve().then(() =>
        queues
          .of(layout.of(payload.key))
          .get()
          .add(JOB_NAME, payload, { ...opts, jobId }),
      ),
      'QUEUE_UNAVAILABLE',
    );
  };
  const acceptAndEnqueue = createAcceptAndEnqueue(queueRedis, queues, layout, ledger, opts);
  const apiKeys = createApiKeyStore({ redis: kvRedis, keys: apiKeyKeys(config.KEY_PREFIX) });
  const auth = await startAuth(config, apiKeys, logger, lifecycle);
  const deps: ApiDeps = {
    ledger,
    records,
    deadLetters,
    // With tracing on, each has a producer span whose trace context the job carries.
    enqueue: tracer ? traceEnqueue(enqueue, tracer, layout) : enqueue,
    acceptAndEnqueue: countAccepted(
      layoutVerified(
        tracer ? traceAcceptAndEnqueue(acceptAndEnqueue, tracer, layout) : acceptAndEnqueue,
        () => queueLayout.verified() && dataLayout.verified(),
      ),
      metrics,
    ),
    admission: startAdmission(config, queueRedis, kvRedis, ledger, logger, lifecycle),
    keyBusyWaitMs: config.KEY_BUSY_WAIT_MS,
    waiter: createOpWaiter({ ledger, subscriber }),
    logger,
    accessLog: config.ACCESS_LOG,
    tracer,
    // Audit entries name the trace of the request that made them.
    traceId: tracer && activeTraceId,
    metrics,
    limits: { maxKeyBytes: config.MAX_KEY_BYTES, maxValueBytes: config.MAX_VALUE_BYTES },
    readAfterWaitMs: config.READ_AFTER_WAIT_MS,
    docsEnabled: config.DOCS_ENABLED,
    rateLimits: {
      limiter: createRateLimiter({
        redis: queueRedis,
        config,
        keyPrefix: layout.global.rateLimits,
        logger,
        onLimited: metrics && ((kind) => metrics.observeRateLimited(kind)),
      }),
      trustedProxies: trustedProxies(config.TRUSTED_PROXIES, config.TRUSTED_PROXY_HEADER),
    },
    auditLog,
    board: boardEnabled(config)
      ? { queues: () => Array.from({ length: queues.count }, (_, i) => queues.of(i).get()) }
      : undefined,
    auth,
    apiKeys,
    onAuthDenied: metrics && ((reason) => metrics.observeAuthDenial(reason)),
    isShuttingDown: () => lifecycle.shuttingDown,
  };
  if (metrics) watchRedis(metrics, { queue: queueRedis, data: kvRedis }, lifecycle);
  watchQueue(config, metrics, () => ({ queues, connection: queueRedis, deadLetters }), lifecycle);
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
  const everywhere = config.HOST === '0.0.0.0' || config.HOST === '::';
  const host = everywhere ? '127.0.0.1' : config.HOST;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${String(port)}`;
  // What it is bound to, which is not what a local client uses when that is every interface.
  const listening = `${config.HOST.includes(':') ? `[${config.HOST}]` : config.HOST}:${String(port)}`;
  logger.info({ url, listening }, 'api listening');
  if (deps.board) {
    const open = config.AUTH === 'off';
    logger[open ? 'warn' : 'info'](
      { url: `${url}/admin/queues` },
      open
        ? 'queue dashboard served without authentication (ADMIN_UI=on, loopback HOST)'
        : 'queue dashboard (read-only, admin credentials)',
    );
  }
  if (!isLoopback(config.HOST) && config.AUTH === 'off') {
    logger.warn(
      { listening },
      `listening on ${listening} without authentication (AUTH=off): anyone who can reach it can read and write every key; set AUTH=keys with API keys (docs/security.md), or HOST=127.0.0.1`,
    );
  }
  return { url, listening, port, server };
}

/**
 * Whether /admin/queues is served: ADMIN_UI=on (config.ts allows it without authentication only
 * on a loopback HOST), or auto with authentication on.
 */
export function boardEnabled(config: Config): boolean {
  return config.ADMIN_UI === 'on' || (config.ADMIN_UI === 'auto' && config.AUTH === 'keys');
}

/**
 * API-key authentication when AUTH=keys: keys in the data Redis, API_KEYS_FILE (re-read when it
 * changes, checked every KEY_CACHE_MS, at least once a second) and the deprecated API_TOKENS.
 */
async function startAuth(
  config: Config,
  apiKeys: ApiKeyStore,
  logger: Logger,
  lifecycle: Lifecycle,
): Promise<Authenticator | undefined> {
  if (config.AUTH === 'off') return undefined;
  if (config.API_TOKENS.length > 0) {
    logger.warn(
      { tokens: config.API_TOKENS.length },
      'API_TOKENS is deprecated: each token works as an admin key (token-1, token-2, ...); create API keys with `kvq keys create` and remove API_TOKENS',
    );
  }
  let file: Pick<KeysFile, 'current'> | undefined;
  if (config.API_KEYS_FILE !== undefined) {
    const f = await createKeysFile(config.API_KEYS_FILE, logger);
    file = { current: () => f.current() };
    const timer = createPeriodic(
      () => f.reload(),
      Math.max(1000, config.KEY_CACHE_MS),
      (err: unknown) => {
        logger.error({ err }, 'API keys file reload failed');
      },
    );
    timer.start();
    lifecycle.register('api-keys-file', () => timer.stop());
  }
  return createAuthenticator({
    store: apiKeys,
    fileKeys: file?.current,
    legacyTokens: config.API_TOKENS,
    cacheMs: config.KEY_CACHE_MS,
  });
}

/**
 * The write admission of this process, its readings refreshed by one timer (about once a second)
 * rather than per request: memory fills over seconds, and the backlog count is kept exact enough
 * between readings by the admission itself.
 */
function startAdmission(
  config: Config,
  queueRedis: RedisClient,
  kvRedis: RedisClient,
  ledger: Ledger,
  logger: Logger,
  lifecycle: Lifecycle,
): Admission {
  const admission = createAdmission({
    queueMemory: memoryProbe(queueRedis),
    dataMemory: memoryProbe(kvRedis),
    unfinished: () => ledger.unfinished(),
    maxBacklog: config.MAX_BACKLOG,
    memoryLimitPercent: config.WRITE_MEMORY_LIMIT_PERCENT,
    queueMemoryMaxBytes: config.QUEUE_MEMORY_MAX_BYTES,
    staleAfterMs: 5 * ADMISSION_REFRESH_MS,
  });
  const timer = createPeriodic(
    () => admission.refresh(),
    ADMISSION_REFRESH_MS,
    (err: unknown) => {
      logger.debug({ err }, 'admission refresh failed');
    },
  );
  void admission.refresh();
  timer.start();
  lifecycle.register('admission', () => timer.stop());
  return admission;
}

/** Counts the writes accepted as new ops, by type (kvq_ops_accepted_total). */
function countAccepted(
  acceptAndEnqueue: ApiDeps['acceptAndEnqueue'],
  metrics: Metrics | undefined,
): ApiDeps['acceptAndEnqueue'] {
  if (!metrics) return acceptAndEnqueue;
  return async (accept, payload) => {
    const r = await acceptAndEnqueue(accept, payload);
    if (r.kind === 'new') metrics.opAccepted(accept.type);
    return r;
  };
}

/** No write is accepted before both Redis are known to hold this partition count. */
function layoutVerified(
  acceptAndEnqueue: ApiDeps['acceptAndEnqueue'],
  verified: () => boolean,
): ApiDeps['acceptAndEnqueue'] {
  return (accept, payload) => {
    if (!verified()) {
      return Promise.reject(
        new AppError(
          'QUEUE_UNAVAILABLE',
          'the partition count of the queue and data Redis is not verified yet; retry',
          { headers: { 'retry-after': '1' } },
        ),
      );
    }
    return acceptAndEnqueue(accept, payload);
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
