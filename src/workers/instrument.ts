import { UnrecoverableError } from 'bullmq';

import type { Metrics } from '../metrics/index.ts';
import type { ApplyJob, ProcessResult } from './processor.ts';

/**
 * The processor with job metrics around it: jobs active, each attempt's duration, and the
 * attempts handed back to BullMQ for another try (it threw with attempts left, and not as
 * unrecoverable).
 */
export function instrumentProcessor<J extends ApplyJob>(
  process: (job: J) => Promise<ProcessResult>,
  metrics: Pick<Metrics, 'jobStarted'> | undefined,
): (job: J) => Promise<ProcessResult> {
  if (!metrics) return process;
  return async (job) => {
    const end = metrics.jobStarted();
    let retried = false;
    try {
      return await process(job);
    } catch (err) {
      retried =
        !(err instanceof UnrecoverableError) && job.attemptsMade + 1 < (job.opts.attempts ?? 1);
      throw err;
    } finally {
      end(retried);
    }
  };
}
