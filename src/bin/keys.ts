/**
 * Composition root of `kvq keys ...` (provisioning API keys): reads the config, connects to the
 * data Redis (only when the command needs it) and runs the command in src/provision/keys-command.ts.
 */
import { apiKeyKeys, type Config, ConfigError } from '../core/index.ts';
import { keysNeedRedis, runKeys } from '../provision/keys-command.ts';
import { closeClient, createRedisClient, type RedisClient } from '../redis/index.ts';
import { createApiKeyStore } from '../store/index.ts';

export async function keysCommand(argv: string[], config: Config): Promise<number> {
  let redis: RedisClient | undefined;
  const { stdout, stderr } = process;
  if (keysNeedRedis(argv) && argv.length > 0 && !config.KV_REDIS_URL) {
    throw new ConfigError(['KV_REDIS_URL: required for kvq keys (keys live in the data Redis)']);
  }
  try {
    return await runKeys(argv, { stdout, stderr }, () => {
      redis ??= createRedisClient(config.KV_REDIS_URL ?? '', 'command', config, 'keys-cli');
      return createApiKeyStore({ redis, keys: apiKeyKeys(config.KEY_PREFIX) });
    });
  } finally {
    if (redis) await closeClient(redis);
  }
}
