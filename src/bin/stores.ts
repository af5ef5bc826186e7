import type { Cluster, Redis } from 'ioredis';

import {
  type Config,
  isTransient,
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

/** How soon a partition-count check that could not be made (Redis unreachable or refusing) is retried. */
const PARTITION_CHECK_RETRY_MS = 1000;

/**
 * Refuses to run against data written with another partition count: checked now when the Redis
 * is reachable (a mismatch fails startup), else until it can be (a mismatch then shuts the
 * process down with exit code 1). A check the Redis cannot answer yet (unreachable, or refusing
 * during a failover) is retried every PARTITION_CHECK_RETRY_MS instead of failing startup: a
 * process restarted during a failover must start. `verified()` says whether the check has
 * passed: the API accepts no write before it has (a worker with the wrong count consumes queue
 * names no correct API fills, so it cannot apply anything).
 */
export async function enforcePartitionCount(
  redis: Redis | Cluster,
  layout: KeyLayout,
  which: 'queue' | 'data',
  logger: Logger,
  lifecycle: Lifecycle,
): Promise<{ verified: () => boolean }> {
  let ok = false;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const check = async () => {
    await checkPartitionCount(redis, layout, which);
    ok = true;
  };
  const later = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      check().catch((err: unknown) => {
        if (!(err instanceof PartitionCountMismatch)) {
          later();
          return;
        }
        logger.fatal({ err }, 'partition count mismatch');
        void lifecycle.shutdown('partition count mismatch').then(() => process.exit(1));
      });
    }, PARTITION_CHECK_RETRY_MS);
    timer.unref();
  };
  lifecycle.register(`${which} partition count check`, () => {
    stopped = true;
    clearTimeout(timer);
  });
  if (redis.status === 'ready') {
    try {
      await check();
    } catch (err) {
      if (err instanceof PartitionCountMismatch || !isTransient(err)) throw err;
      logger.warn({ err }, `${which} Redis cannot record the partition count yet; retrying`);
      later();
    }
  } else later();
  return { verified: () => ok };
}
