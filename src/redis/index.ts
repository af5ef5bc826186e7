export {
  type HostPort,
  parseRedisUrl,
  REDIS_URL_FORMS,
  type RedisTarget,
  type RedisTopology,
  RedisUrlError,
} from '../core/index.ts';
export { type ChildWatchdog, startChildWatchdog } from './child-watchdog.ts';
export {
  type ClientKind,
  closeClient,
  createRedisClient,
  forEachMaster,
  reconnectOnReadonly,
  type RedisClient,
  waitReady,
  watchStalls,
} from './clients.ts';
export {
  CONTAINER_ENGINES,
  ContainerStartError,
  findContainerEngine,
  REDIS_IMAGE,
  type RedisContainer,
  startRedisContainer,
} from './container-redis.ts';
export { type LocalCluster, type LocalClusterOptions, startRedisCluster } from './local-cluster.ts';
export {
  type LocalSentinelSet,
  type LocalSentinelSetOptions,
  startSentinelSet,
} from './local-sentinel-set.ts';
export {
  freePort,
  REDIS_INSTALL_HINT,
  type RedisServer,
  redisServerAvailable,
  type RedisServerOptions,
  startRedisServer,
} from './local-servers.ts';
export { fullest, memoryProbe, parseInfoMemory } from './memory-info.ts';
