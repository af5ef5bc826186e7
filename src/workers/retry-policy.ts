import pRetry from 'p-retry';

import { isTransient } from '../core/index.ts';

/**
 * Two layers of retry. Inside a job, p-retry absorbs blips (a failover, a dropped connection)
 * with a few short tries. What still fails goes back to BullMQ, which re-runs the job with
 * exponential backoff and jitter up to JOB_ATTEMPTS times. Only transient errors are retried
 * here (the table lives in core/errors.ts).
 */
export interface InJobRetry {
  retries: number;
  minTimeoutMs: number;
}

export const DEFAULT_IN_JOB_RETRY: InJobRetry = { retries: 3, minTimeoutMs: 50 };

export function withRetry<T>(fn: () => Promise<T>, policy: InJobRetry): Promise<T> {
  return pRetry(fn, {
    retries: policy.retries,
    minTimeout: policy.minTimeoutMs,
    maxTimeout: policy.minTimeoutMs * 8,
    factor: 2,
    randomize: true,
    shouldRetry: ({ error }) => isTransient(error),
  });
}
