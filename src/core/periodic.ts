/**
 * Runs `task` every `intervalMs`, never two at once (a slow run makes the next tick skip), and
 * `stop()` waits for the run in progress. Errors go to `onError`; the schedule carries on.
 */
export interface Periodic {
  start: () => void;
  stop: () => Promise<void>;
}

export function createPeriodic(
  task: () => Promise<unknown>,
  intervalMs: number,
  onError: (err: unknown) => void,
): Periodic {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> | undefined;
  return {
    start: () => {
      timer ??= setInterval(() => {
        running ??= task()
          .catch(onError)
          .finally(() => {
            running = undefined;
          });
      }, intervalMs);
      timer.unref();
    },
    stop: async () => {
      clearInterval(timer);
      timer = undefined;
      await running;
    },
  };
}
