/**
 * Composition root of `kvq keys ...` (provisioning API keys): reads the config, connects to the
 * data Redis (only when the command needs it) and runs the command in
 * src/provision/keys-command.ts.
 */
import { apiKeyKeys, AppError, type Config, ConfigError } from '../core/index.ts';
import { keysNeedRedis, runKeys } from '../provision/keys-command.ts';
import { closeClient, createRedisClient, type RedisClient, waitReady } from '../redis/index.ts';
import { type ApiKeyStore, createApiKeyStore } from '../store/index.ts';

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
    return await runKeys(argv, { stdout, stderr }, () => {
      if (!store) throw new Error('kvq keys: this command needs the data Redis');
      return store;
    });
  } finally {
    if (redis) await closeClient(redis);
  }
}
