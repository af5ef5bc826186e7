export type { KeyFormatProblem } from './api-key.ts';
export {
  API_KEY_LENGTH,
  API_KEY_PREFIX,
  apiKeyDigest,
  apiKeyFormatProblem,
  generateApiKey,
  generateKeyId,
  isKeyDigest,
  KEY_ID,
  keyFingerprint,
  parseDuration,
  parseRateLimit,
} from './api-key.ts';
export type { Cidr } from './cidr.ts';
export { parseCidr } from './cidr.ts';
export type { AuthMode, Config, ConfigInput, TracingSettings } from './config.ts';
export {
  CONFIG_KEYS,
  ConfigError,
  isLoopback,
  loadConfig,
  requireRedisUrls,
  tracingSettings,
} from './config.ts';
export type { ErrorCode, FieldError } from './errors.ts';
export { AppError, ERRORS, isAppError, isOutOfMemory, isTransient } from './errors.ts';
export type { ApiKeyKeys, DataKeys, KeyLayout, QueueKeys } from './keys.ts';
export { apiKeyKeys, dataKeys, keyLayout, queueKeys } from './keys.ts';
export type { Lifecycle, ShutdownResult } from './lifecycle.ts';
export { createLifecycle } from './lifecycle.ts';
export type { Listening } from './listen.ts';
export { listen } from './listen.ts';
export type { LogFields } from './log-context.ts';
export { activeTraceId, logContextFields, withLogFields } from './log-context.ts';
export { formatLogLine } from './log-format.ts';
export type { LogFormat, Logger, LoggerOptions } from './logger.ts';
export { createLogger, logFormatFor } from './logger.ts';
export type {
  Condition,
  JobPayload,
  OpError,
  OpReceipt,
  OpStatus,
  OpType,
  TraceCarrier,
} from './ops.ts';
export {
  conditionSchema,
  FAILURE_CODES,
  JOB_NAME,
  jobPayloadSchema,
  OP_STATUSES,
  OP_TYPES,
  TERMINAL_STATUSES,
  traceCarrierSchema,
} from './ops.ts';
export type { Partitioning } from './partitions.ts';
export { crc16, createPartitioning, fnv1a32, slotOf } from './partitions.ts';
export type { Periodic } from './periodic.ts';
export { createPeriodic } from './periodic.ts';
export {
  anyReadableUnder,
  checkPrefixRule,
  formatPrefixRule,
  keyAllows,
  listingPositionAfter,
  parsePrefixRule,
  rulesOf,
  scopeOnKey,
} from './prefix-rules.ts';
export type { PrefixRule, Principal, Scope } from './principal.ts';
export { scopeAllows, SCOPES } from './principal.ts';
export type { HostPort, RedisTarget, RedisTopology } from './redis-url.ts';
export { parseRedisUrl, REDIS_URL_FORMS, RedisUrlError } from './redis-url.ts';
export type { Tracer } from './tracing.ts';
export { ATTR, contextOfCarrier, recordFailure, traceCarrierOf, TRACER_NAME } from './tracing.ts';
