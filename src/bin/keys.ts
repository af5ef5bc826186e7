/**
 * Composition root of `kvq keys ...` (provisioning API keys): reads the config, connects to the
 * data Redis (only when the command needs it) and runs the command in
 * src/provision/keys-command.ts.
 */
import { randomUUID } from 'node:crypto';
import { hostname, userInfo } from 'node:os';

import { apiKeyKeys, AppError, type Config, ConfigError, keyLayout } from '../core/index.ts';
import { type KeysAudit, keysNeedRedis, runKeys } from '../provision/keys-command.ts';
import { closeClient, createRedisClient, type RedisClient, waitReady } from '../redis/index.ts';
import { type ApiKeyStore, createApiKeyStore, createAuditLog } from '../store/index.ts';

/**
 * The audit log entry of a key created or revoked from the command line: the actor is the
 * operating-system user and host that ran it (no API key is involved). A failed write is reported
 * on stderr; the key change stands.
 */
function keysAudit(redis: RedisClient, config: Config): KeysAudit {
  const log = createAuditLog({
    redis,
    key: keyLayout({
      prefix: config.KEY_PREFIX,
      queueName: config.QUEUE_NAME,
      partitions: config.PARTITIONS,
    }).global.auditLog,
    maxEntries: config.AUDIT_LOG_MAX_ENTRIES,
  });
  const actor = `cli:${userInfo().username}@${hostname()}`;
  return async (action, target) => {
    try {
      await log.append({ actor, action, target, outcome: 'ok', requestId: randomUUID() });
    } catch (err) {
      process.stderr.write(
        `kvq keys: the audit log entry was not written: ${err instanceof Error ? err.message : String(err)}\n`,
      );
    }
  };
}

export async function keysCommand(argv: string[], config: Config): Promise<number> {
  const { stdout, stderr } = process;
  let redis: RedisClient | undefined;
  let store: ApiKeyStore | undefined;
  if (argv.length > 0 && keysNeedRedis(argv)) {
    if (!config.KV_REDIS_URL) {
      throw new ConfigError(['KV_REDIS_URL: required for kvq keys (keys live in the data Redis)']);
    }
    redis = createRedisClient(config.KV_REDIS_URL, 'command', config, 'keys-cli');
    redis.on('error', () => undefined);
    if (!(await waitReady(redis, config.REDIS_CONNECT_TIMEOUT_MS * 2))) {
      await closeClient(redis);
      throw new AppError('DATA_UNAVAILABLE', `cannot reach the data Redis (KV_REDIS_URL)`);
    }
    store = createApiKeyStore({ redis, keys: apiKeyKeys(config.KEY_PREFIX) });
  }
  try {
    const audit = redis && keysAudit(redis, config);
    return await runKeys(
      argv,
      { stdout, stderr },
      () => {
        if (!store) throw new Error('kvq keys: this command needs the data Redis');
        return store;
      },
      audit,
    );
  } finally {
    if (redis) await closeClient(redis);
  }
}
