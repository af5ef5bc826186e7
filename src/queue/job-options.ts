import type { JobsOptions } from 'bullmq';

import type { Config } from '../core/index.ts';

/**
 * BullMQ options for every op job. Finished jobs are deleted at once (the receipt lives in the
 * ledger, and values must not linger in the queue Redis); failed ones are kept an hour so the
 * worker can tell a final failure from a retry.
 */
export function jobOptions(config: Config): JobsOptions {
  return {
    attempts: config.JOB_ATTEMPTS,
    backoff: { type: 'exponential', delay: config.JOB_BACKOFF_MS, jitter: 0.5 },
    removeOnComplete: true,
    removeOnFail: { age: 3600 },
  };
}
