import { AppError } from '../core/index.ts';

/**
 * How long past the end of a wait its last Redis read may take. A wait of `ms` settles within
 * `ms + WAIT_GRACE_MS` whatever Redis does (the stall watchdog alone would let a read run for
 * 1.25 × REDIS_COMMAND_TIMEOUT_MS, which is configurable up to a minute).
 */
export const WAIT_GRACE_MS = 1000;

/**
 * `p`, or a 503 `code` AppError (Retry-After: 1) once the clock passes `at` (epoch ms), whichever
 * comes first. `p` itself cannot be cancelled: its late answer, or its failure, is ignored.
 */
export function beforeDeadline<T>(
  p: Promise<T>,
  at: number,
  code: 'QUEUE_UNAVAILABLE' | 'DATA_UNAVAILABLE',
  what: string,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => {
        const store = code === 'QUEUE_UNAVAILABLE' ? 'queue' : 'data';
        reject(
          new AppError(code, `${store} Redis did not answer in time (${what})`, {
            headers: { 'retry-after': '1' },
          }),
        );
      },
      Math.max(0, at - Date.now()),
    );
  });
  // race() subscribes to `p`, so its late failure is handled (and ignored), never unhandled.
  return Promise.race([p, late]).finally(() => {
    clearTimeout(timer);
  });
}
