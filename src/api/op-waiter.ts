import type { Ledger, StoredReceipt } from '../store/index.ts';
import { isTerminal } from '../store/index.ts';

/** Pub/sub as the waiter needs it; the composition root adapts an ioredis subscriber. */
export interface Subscriber {
  subscribe(channel: string): Promise<void>;
  unsubscribe(channel: string): Promise<void>;
  onMessage(handler: (channel: string) => void): void;
}

export interface OpWaiter {
  /**
   * Resolves with the receipt once the op is terminal or `ms` passed (then with its latest state);
   * null for an unknown op.
   */
  wait(opId: string, ms: number): Promise<StoredReceipt | null>;
  /** Waiters currently parked (for tests and metrics). */
  readonly size: number;
}

/** Never trust a missed message for long: re-read the receipt at least this often. */
const POLL_MS = 1000;

/**
 * One subscriber connection per process, one channel per waited-on op (so no process sees traffic
 * for ops nobody waits on), and a map of waiters, instead of a listener per request.
 */
export function createOpWaiter(deps: { ledger: Ledger; subscriber: Subscriber }): OpWaiter {
  const { ledger, subscriber } = deps;
  const waiters = new Map<string, Set<() => void>>();
  const channelToOp = new Map<string, string>();

  subscriber.onMessage((channel) => {
    const opId = channelToOp.get(channel);
    if (opId === undefined) return;
    for (const wake of waiters.get(opId) ?? []) wake();
  });

  async function park(opId: string, wake: () => void): Promise<() => Promise<void>> {
    const channel = ledger.doneChannel(opId);
    let set = waiters.get(opId);
    if (!set) {
      set = new Set();
      waiters.set(opId, set);
      channelToOp.set(channel, opId);
      try {
        await subscriber.subscribe(channel);
      } catch {
        // No pub/sub: polling still finds the result.
      }
    }
    set.add(wake);
    return async () => {
      const s = waiters.get(opId);
      if (!s) return;
      s.delete(wake);
      if (s.size === 0) {
        waiters.delete(opId);
        channelToOp.delete(channel);
        await subscriber.unsubscribe(channel).catch(() => undefined);
      }
    };
  }

  return {
    async wait(opId, ms) {
      let r = await ledger.receipt(opId);
      if (!r || isTerminal(r.status) || ms <= 0) return r;
      const deadline = Date.now() + ms;
      let wake: () => void = () => undefined;
      let signal = new Promise<void>((resolve) => (wake = resolve));
      const leave = await park(opId, () => {
        wake();
      });
      try {
        for (;;) {
          r = await ledger.receipt(opId);
          if (!r || isTerminal(r.status)) return r;
          const left = deadline - Date.now();
          if (left <= 0) return r;
          let timer: NodeJS.Timeout | undefined;
          await Promise.race([
            signal,
            new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.min(left, POLL_MS)))),
          ]);
          clearTimeout(timer);
          signal = new Promise<void>((resolve) => (wake = resolve));
        }
      } finally {
        await leave();
      }
    },
    get size() {
      let n = 0;
      for (const s of waiters.values()) n += s.size;
      return n;
    },
  };
}
