export { loadConfig, requireRedisUrls, ConfigError, CONFIG_KEYS } from './config.ts';
export type { Config, ConfigInput } from './config.ts';
export { ERRORS, AppError, isAppError, isTransient } from './errors.ts';
export type { ErrorCode, FieldError } from './errors.ts';
export {
  OP_TYPES,
  OP_STATUSES,
  TERMINAL_STATUSES,
  FAILURE_CODES,
  JOB_NAME,
  conditionSchema,
  jobPayloadSchema,
  queueKeys,
  dataKeys,
} from './ops.ts';
export type { OpType, OpStatus, Condition, JobPayload, OpReceipt, OpError } from './ops.ts';
export { createLifecycle } from './lifecycle.ts';
export type { Lifecycle, ShutdownResult } from './lifecycle.ts';
export { createLogger } from './logger.ts';
export type { Logger } from './logger.ts';
