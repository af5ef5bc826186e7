export type {
  AuthDenialReason,
  Metrics,
  QueueJobState,
  QueueReading,
  RateLimitKind,
} from './metrics.ts';
export {
  AUTH_DENIAL_REASONS,
  createMetrics,
  QUEUE_JOB_STATES,
  RATE_LIMIT_KINDS,
} from './metrics.ts';
export { createQueueSampler } from './queue-sampler.ts';
export type { RedisProbe } from './redis-sampler.ts';
export { createRedisSampler } from './redis-sampler.ts';
export { startMetricsServer } from './server.ts';
