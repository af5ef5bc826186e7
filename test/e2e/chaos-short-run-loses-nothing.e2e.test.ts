import { expect, it } from 'vitest';

import { flaggedKeysDump, runChaos, summaryTable } from '../../chaos/chaos.ts';

/**
 * The short variant of `npm run chaos` (same harness, ~15 s of faults): the sequential model
 * judges every answer, receipt and final read.
 */
it('15 s of SIGKILLs and Redis restarts with conditional writes: every outcome matches the sequential model', async () => {
  const result = await runChaos({
    durationMs: 15_000,
    keys: 100,
    rate: 800,
    apis: 2,
    workers: 3,
    killEveryMs: 2000,
    restartRedis: true,
    drainTimeoutMs: 60_000,
    log: () => undefined,
  });
  console.log(summaryTable(result));
  // What the model judged for each flagged key: its ops, answers and final read.
  if (!result.ok) console.log(flaggedKeysDump(result));
  expect(result.violations.slice(0, 20)).toEqual([]);
  expect(result.ok).toBe(true);
  // Proof that the faults met real traffic, not a speed check (the figures are printed above;
  // throughput is the benchmark's job): any accepted write will do.
  expect(result.history.ops.size).toBeGreaterThan(0);
  expect(result.stats['Redis restarts']).toBe('queue, data');
}, 240_000);
