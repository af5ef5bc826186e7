export { createProcessor } from './processor.ts';
export type { ApplyJob, ProcessResult } from './processor.ts';
export { createReaper } from './reaper.ts';
export { withRetry, DEFAULT_IN_JOB_RETRY } from './retry-policy.ts';
export type { InJobRetry } from './retry-policy.ts';
