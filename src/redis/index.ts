export {
  type ClientKind,
  closeClient,
  createRedisClient,
  waitReady,
  watchStalls,
} from './clients.ts';
export {
  freePort,
  REDIS_INSTALL_HINT,
  type RedisServer,
  redisServerAvailable,
  type RedisServerOptions,
  startRedisServer,
} from './local-servers.ts';
export { memoryProbe, parseInfoMemory } from './memory-info.ts';
