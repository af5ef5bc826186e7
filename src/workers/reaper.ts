import { createPeriodic, type Logger } from '../core/index.ts';
import type { RecordStore } from '../store/index.ts';

/**
 * Periodically turns TTL-expired records into tombstones so expired values do not sit in memory
 * for the fencing window. Safe to run in every worker: the Lua script is idempotent.
 */
export function createReaper(deps: { records: RecordStore; logger: Logger; intervalMs: number }) {
  async function tick(): Promise<void> {
    try {
      let n: number;
      do {
        n = await deps.records.reap(500);
      } while (n === 500);
    } catch (err) {
      deps.logger.warn({ err }, 'reaper tick failed');
    }
  }

  // tick() logs its own failures.
  return { ...createPeriodic(tick, deps.intervalMs, () => undefined), tick };
}
