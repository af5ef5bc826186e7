import type { Ledger, StoredReceipt } from '../store/index.ts';
import { isTerminal } from '../store/index.ts';
import { beforeDeadline, WAIT_GRACE_MS } from './deadline.ts';

/** Pub/sub as the waiter needs it; the composition root adapts an ioredis subscriber. */
export interface Subscriber {
  subscribe(channel: string): Promise<void>;
  unsubscribe(channel: string): Promise<void>;
  onMessage(handler: (channel: string) => void): void;
}

export interface OpWaiter {
  /**
   * Resolves with the receipt once the op is terminal or `ms` passed (then with its latest state);
   * null for an unknown op. Settles within `ms + WAIT_GRACE_MS` whatever Redis does: a receipt
   * read that has not answered by then rejects with 503 QUEUE_UNAVAILABLE, as a failed one does.
   */
  wait(opId: string, ms: number): Promise<StoredReceipt | null>;
  /** Waiters currently parked (for tests and metrics). */
  readonly size: number;
}

/** Never trust a missed message for long: re-read the receipt at least this often. */
const POLL_MS = 1000;

const noop = () => undefined;

/** Resolves when `signal` does or after `ms`, whichever is first (never rejects). */
function until(signal: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    signal.then(noop, noop),
    new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.max(0, ms)))),
  ]).finally(() => {
    clearTimeout(timer);
  });
}

/**
 * One subscriber connection per process, one channel per waited-on op (so no process sees traffic
 * for ops nobody waits on), and a map of waiters, instead of a listener per request.
 *
 * The wait has a hard deadline of its own rather than relying on the stall watchdog: every receipt
 * read races it, and pub/sub is never awaited past it (subscribing is bounded, unsubscribing is not
 * waited for at all), so a Redis that stops answering cannot hold a request beyond it.
 */
export function createOpWaiter(deps: { ledger: Ledger; subscriber: Subscriber }): OpWaiter {
  const { ledger, subscriber } = deps;
  const waiters = new Map<string, Set<() => void>>();
  const channelToOp = new Map<string, string>();
  /** Per op: settles once its channel is subscribed (or subscribing failed). */
  const subscribed = new Map<string, Promise<void>>();

  subscriber.onMessage((channel) => {
    const opId = channelToOp.get(channel);
    if (opId === undefined) return;
    for (const wake of waiters.get(opId) ?? []) wake();
  });

  /** Registers `wake`; returns when the subscription is in place and how to leave. */
  function park(opId: string, wake: () => void): { ready: Promise<void>; leave: () => void } {
    const channel = ledger.doneChannel(opId);
    let set = waiters.get(opId);
    if (!set) {
      set = new Set();
      waiters.set(opId, set);
      channelToOp.set(channel, opId);
      // No pub/sub (an error, or no answer): polling still finds the result.
      subscribed.set(opId, subscriber.subscribe(channel).then(noop, noop));
    }
    set.add(wake);
    const ready = subscribed.get(opId) ?? Promise.resolve();
    const leave = () => {
      const s = waiters.get(opId);
      if (!s) return;
      s.delete(wake);
      if (s.size > 0) return;
      waiters.delete(opId);
      channelToOp.delete(channel);
      subscribed.delete(opId);
      // Not awaited: on a stalled Redis it would hold the answer until Redis came back. Commands
      // on one connection run in order, so a later subscribe to the same channel still wins.
      subscriber.unsubscribe(channel).catch(noop);
    };
    return { ready, leave };
  }

  return {
    async wait(opId, ms) {
      const waitEnd = Date.now() + Math.max(0, ms);
      const hardEnd = waitEnd + WAIT_GRACE_MS;
      const read = () =>
        beforeDeadline(ledger.receipt(opId), hardEnd, 'QUEUE_UNAVAILABLE', `reading op ${opId}`);

      let r = await read();
      if (!r || isTerminal(r.status) || ms <= 0) return r;
      let wake: () => void = noop;
      let signal = new Promise<void>((resolve) => (wake = resolve));
      const { ready, leave } = park(opId, () => {
        wake();
      });
      try {
        // Re-read once subscribed: the op may have finished before the subscription took.
        await until(ready, Math.min(waitEnd - Date.now(), POLL_MS));
        for (;;) {
          r = await read();
          if (!r || isTerminal(r.status)) return r;
          const left = waitEnd - Date.now();
          if (left <= 0) return r;
          await until(signal, Math.min(left, POLL_MS));
          signal = new Promise<void>((resolve) => (wake = resolve));
        }
      } finally {
        leave();
      }
    },
    get size() {
      let n = 0;
      for (const s of waiters.values()) n += s.size;
      return n;
    },
  };
}
