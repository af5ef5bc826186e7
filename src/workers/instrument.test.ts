import { UnrecoverableError } from 'bullmq';
import { describe, expect, it } from 'vitest';

import { createMetrics } from '../metrics/index.ts';
import { instrumentProcessor } from './instrument.ts';
import type { ApplyJob, ProcessResult } from './processor.ts';

const job = (attemptsMade: number, attempts = 3): ApplyJob => ({
  data: {},
  attemptsMade,
  opts: { attempts },
});

/** The one value of a metric without labels. */
async function read(metrics: ReturnType<typeof createMetrics>, name: string) {
  return (await metrics.registry.getSingleMetric(name)?.get())?.values[0]?.value;
}

describe('job metrics around the processor', () => {
  it('counts retries only for attempts BullMQ will try again, and every attempt’s duration', async () => {
    const metrics = createMetrics({ version: '0.0.0', role: 'test' });
    let fail: Error | undefined;
    const process = instrumentProcessor(async (): Promise<ProcessResult> => {
      expect(await read(metrics, 'kvq_worker_jobs_active')).toBe(1);
      if (fail) throw fail;
      return { opId: 'o', status: 'applied', duplicate: false };
    }, metrics);

    await process(job(0));
    fail = new Error('transient');
    await expect(process(job(0))).rejects.toThrow('transient'); // attempt 1 of 3: retried
    await expect(process(job(2))).rejects.toThrow('transient'); // attempt 3 of 3: final
    fail = new UnrecoverableError('never');
    await expect(process(job(0))).rejects.toThrow('never'); // not retried by BullMQ

    expect(await read(metrics, 'kvq_job_retries_total')).toBe(1);
    expect(await read(metrics, 'kvq_worker_jobs_active')).toBe(0);
    const scrape = await metrics.registry.metrics();
    expect(scrape).toMatch(/^kvq_job_duration_seconds_count 4$/m);
  });
});
