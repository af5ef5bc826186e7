/**
 * Ordered, idempotent shutdown. Closers run in reverse registration order under one deadline;
 * `shutdown()` returns the same promise however often it is called.
 */
export interface Lifecycle {
  register(name: string, close: () => Promise<void> | void): void;
  shutdown(reason: string): Promise<ShutdownResult>;
  readonly shuttingDown: boolean;
}

export interface ShutdownResult {
  reason: string;
  /** Closers that threw or did not finish before the deadline. */
  failed: string[];
  timedOut: boolean;
}

interface LifecycleLogger {
  info(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export function createLifecycle(opts: { deadlineMs: number; logger: LifecycleLogger }): Lifecycle {
  const closers: { name: string; close: () => Promise<void> | void }[] = [];
  let pending: Promise<ShutdownResult> | undefined;

  async function run(reason: string): Promise<ShutdownResult> {
    opts.logger.info({ reason }, 'shutting down');
    const failed: string[] = [];
    let timedOut = false;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => {
        resolve('timeout');
      }, opts.deadlineMs);
      timer.unref();
    });
    const all = (async () => {
      for (const { name, close } of [...closers].reverse()) {
        try {
          await close();
        } catch (err) {
          failed.push(name);
          opts.logger.error({ err, closer: name }, 'closer failed');
        }
      }
    })();
    if ((await Promise.race([all.then(() => 'done' as const), deadline])) === 'timeout') {
      timedOut = true;
      opts.logger.error({ deadlineMs: opts.deadlineMs }, 'shutdown deadline passed');
    }
    clearTimeout(timer);
    return { reason, failed, timedOut };
  }

  return {
    register(name, close) {
      closers.push({ name, close });
    },
    shutdown(reason) {
      pending ??= run(reason);
      return pending;
    },
    get shuttingDown() {
      return pending !== undefined;
    },
  };
}
