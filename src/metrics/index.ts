export type { Metrics } from './metrics.ts';
export { createMetrics } from './metrics.ts';
export type { RedisProbe } from './redis-sampler.ts';
export { createRedisSampler } from './redis-sampler.ts';
export { startMetricsServer } from './server.ts';
