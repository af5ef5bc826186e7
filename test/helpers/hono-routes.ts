import { createApp, createOpWaiter } from '../../src/api/index.ts';
import { apiKeyKeys, createLogger } from '../../src/core/index.ts';
import {
  createApiKeyStore,
  createAuditLog,
  createDeadLetters,
  createLedger,
  createRecordStore,
} from '../../src/store/index.ts';
import type { Stack } from './stack.ts';

/**
 * The routes a Hono app built like the stack's serves, as "METHOD /openapi/{path}": Hono's own
 * route table (middlewares left out), `:name` and the key wildcard in OpenAPI's spelling.
 */
export function honoRoutes(s: Stack): string[] {
  const ledger = createLedger({
    redis: s.queueRedis,
    layout: s.layout,
    retentionMs: 60_000,
    retentionCount: 100,
  });
  const records = createRecordStore({ redis: s.kvRedis, layout: s.layout, fenceWindowMs: 60_000 });
  const app = createApp({
    ledger,
    records,
    deadLetters: createDeadLetters({ redis: s.queueRedis, layout: s.layout }),
    enqueue: () => Promise.reject(new Error('not used')),
    acceptAndEnqueue: () => Promise.reject(new Error('not used')),
    admission: { check: () => Promise.resolve(), refresh: () => Promise.resolve() },
    keyBusyWaitMs: 0,
    waiter: createOpWaiter({
      ledger,
      subscriber: { subscribe: async () => {}, unsubscribe: async () => {}, onMessage: () => {} },
    }),
    logger: createLogger('silent', 'test'),
    limits: { maxKeyBytes: s.config.MAX_KEY_BYTES, maxValueBytes: s.config.MAX_VALUE_BYTES },
    readAfterWaitMs: 0,
    docsEnabled: s.config.DOCS_ENABLED,
    auditLog: createAuditLog({ redis: s.kvRedis, key: s.layout.global.auditLog, maxEntries: 10 }),
    apiKeys: createApiKeyStore({ redis: s.kvRedis, keys: apiKeyKeys(s.config.KEY_PREFIX) }),
    isShuttingDown: () => false,
  });
  // Handlers registered with app.use() show up as method ALL.
  const routes = app.routes.filter((r) => r.method !== 'ALL');
  return [
    ...new Set(
      routes.map(
        (r) =>
          `${r.method} ${r.path.replace('/v1/keys/*', '/v1/keys/{key}').replace(/:(\w+)/g, '{$1}')}`,
      ),
    ),
  ];
}
