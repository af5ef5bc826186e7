import { createPeriodic, type Periodic } from '../core/index.ts';

/** A gauge sampler: `sample` at start and every `intervalMs`; stop waits for both to end. */
export type Sampler = Periodic & { sample: () => Promise<void> };

/** Runs `sample` (which must not reject) once at start and then every `intervalMs`. */
export function createSampler(sample: () => Promise<void>, intervalMs: number): Sampler {
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
