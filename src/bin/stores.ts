import type { Redis } from 'ioredis';

import type { Config } from '../core/index.ts';
import { createLedger, createRecordStore } from '../store/index.ts';

/** The two store adapters as every role configures them. */
export function createStores(config: Config, queueRedis: Redis, kvRedis: Redis) {
  return {
    ledger: createLedger({
      redis: queueRedis,
      prefix: config.KEY_PREFIX,
      retentionMs: config.OP_RETENTION_SECONDS * 1000,
      retentionCount: config.OP_RETENTION_COUNT,
    }),
    records: createRecordStore({
      redis: kvRedis,
      prefix: config.KEY_PREFIX,
      fenceWindowMs: config.FENCE_WINDOW_SECONDS * 1000,
    }),
  };
}
