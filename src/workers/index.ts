export type { ApplyJob, ProcessResult } from './processor.ts';
export { createProcessor } from './processor.ts';
export { createReaper } from './reaper.ts';
export type { FailedJob, JobSource } from './reconciler.ts';
export { createReconciler } from './reconciler.ts';
export type { InJobRetry } from './retry-policy.ts';
export { DEFAULT_IN_JOB_RETRY, withRetry } from './retry-policy.ts';
export type { Finished, Settler } from './settle.ts';
export { createSettler } from './settle.ts';
