import type { Cluster, Redis } from 'ioredis';

import {
  type Config,
  type KeyLayout,
  keyLayout,
  type Lifecycle,
  type Logger,
} from '../core/index.ts';
import {
  checkPartitionCount,
  createAuditLog,
  createDeadLetters,
  createLedger,
  createRecordStore,
  PartitionCountMismatch,
} from '../store/index.ts';

/** The key layout every role of one deployment shares: prefix, queue name, partitions. */
export function layoutOf(config: Config) {
  return keyLayout({
    prefix: config.KEY_PREFIX,
    queueName: config.QUEUE_NAME,
    partitions: config.PARTITIONS,
  });
}

/** The store adapters as every role configures them. */
export function createStores(
  config: Config,
  queueRedis: Redis | Cluster,
  kvRedis: Redis | Cluster,
) {
  const layout = layoutOf(config);
  const acks = {
    minReplicaAcks: config.MIN_REPLICA_ACKS,
    replicaAckTimeoutMs: config.REPLICA_ACK_TIMEOUT_MS,
  };
  return {
    layout,
    ledger: createLedger({
      redis: queueRedis,
      layout,
      retentionMs: config.OP_RETENTION_SECONDS * 1000,
      retentionCount: config.OP_RETENTION_COUNT,
      ...acks,
    }),
    records: createRecordStore({
      redis: kvRedis,
      layout,
      fenceWindowMs: config.FENCE_WINDOW_SECONDS * 1000,
      ...acks,
    }),
    deadLetters: createDeadLetters({ redis: queueRedis, layout }),
    auditLog: createAuditLog({
      redis: kvRedis,
      key: layout.global.auditLog,
      maxEntries: config.AUDIT_LOG_MAX_ENTRIES,
    }),
  };
}

/**
 * Refuses to run against data written with another partition count: checked now when the Redis
 * is reachable (a mismatch fails startup), else as soon as it becomes so (a mismatch then shuts
 * the process down with exit code 1). `verified()` says whether the check has passed: the API
 * accepts no write before it has (a worker with the wrong count consumes queue names no correct
 * API fills, so it cannot apply anything).
 */
export async function enforcePartitionCount(
  redis: Redis | Cluster,
  layout: KeyLayout,
  which: 'queue' | 'data',
  logger: Logger,
  lifecycle: Lifecycle,
): Promise<{ verified: () => boolean }> {
  let ok = false;
  const check = async () => {
    await checkPartitionCount(redis, layout, which);
    ok = true;
  };
  if (redis.status === 'ready') {
    await check();
    return { verified: () => ok };
  }
  const onReady = () => {
    check().catch((err: unknown) => {
      if (!(err instanceof PartitionCountMismatch)) {
        redis.once('ready', onReady);
        return;
      }
      logger.fatal({ err }, 'partition count mismatch');
      void lifecycle.shutdown('partition count mismatch').then(() => process.exit(1));
    });
  };
  redis.once('ready', onReady);
  return { verified: () => ok };
}
