/**
 * Composition root of `kvq keys ...` (provisioning API keys): reads the config, connects to the
 * data Redis (only when the command needs it) and runs the command in
 * src/provision/keys-command.ts.
 */
import { randomUUID } from 'node:crypto';

import { apiKeyKeys, AppError, type Config, ConfigError } from '../core/index.ts';
import {
  type AuditKeysAction,
  KEYS_CLI_ACTOR,
  keysNeedRedis,
  runKeys,
} from '../provision/keys-command.ts';
import { closeClient, createRedisClient, type RedisClient, waitReady } from '../redis/index.ts';
import {
  type ApiKeyStore,
  type AuditLog,
  createApiKeyStore,
  createAuditLog,
} from '../store/index.ts';
import { layoutOf } from './stores.ts';

export async function keysCommand(argv: string[], config: Config): Promise<number> {
  const { stdout, stderr } = process;
  let redis: RedisClient | undefined;
  let store: ApiKeyStore | undefined;
  let auditLog: AuditLog | undefined;
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
    auditLog = createAuditLog({
      redis,
      key: layoutOf(config).global.auditLog,
      maxEntries: config.AUDIT_LOG_MAX_ENTRIES,
    });
  }
  // As on the API, an entry the data Redis does not take never undoes the action: it is reported.
  const audit: AuditKeysAction = async (record) => {
    try {
      await auditLog?.append({ ...record, actor: KEYS_CLI_ACTOR, requestId: randomUUID() });
    } catch (err) {
      stderr.write(
        `kvq keys: the audit log did not take this ${record.action}: ${(err as Error).message}\n`,
      );
    }
  };
  try {
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
