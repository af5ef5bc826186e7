import type { Metrics, QueueReading } from './metrics.ts';
import { createSampler, type Sampler } from './sampler.ts';

/**
 * Reads the queue every `intervalMs` (and once at `start`) into the kvq_queue_* and
 * kvq_dead_letters gauges. A reading that fails sets kvq_queue_metrics_up to 0 and leaves the
 * other gauges at their last values. Runs in one role only (QUEUE_METRICS): every pod reading
 * the same queue would multiply the load on the queue Redis and the series for no new facts.
 */
export function createQueueSampler(
  metrics: Pick<Metrics, 'recordQueue'>,
  queue: string,
  read: () => Promise<QueueReading>,
  intervalMs: number,
): Sampler {
  const sample = async () => {
    try {
      metrics.recordQueue(queue, await read());
    } catch {
      metrics.recordQueue(queue, null);
    }
  };
  return createSampler(sample, intervalMs);
}
