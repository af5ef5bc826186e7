import { createPeriodic, type Periodic } from '../core/index.ts';
import type { Metrics, QueueReading } from './metrics.ts';

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
): Periodic & { sample: () => Promise<void> } {
  const sample = async () => {
    try {
      metrics.recordQueue(queue, await read());
    } catch {
      metrics.recordQueue(queue, null);
    }
  };
  const timer = createPeriodic(sample, intervalMs, () => undefined);
  let first: Promise<void> | undefined;
  return {
    sample,
    start: () => {
      first ??= sample();
      timer.start();
    },
    stop: async () => {
      await first;
      await timer.stop();
    },
  };
}
