import { describe, expect, it } from 'vitest';

import { AppError } from '../core/index.ts';
import type { Ledger, StoredReceipt } from '../store/index.ts';
import { WAIT_GRACE_MS } from './deadline.ts';
import { createOpWaiter, type Subscriber } from './op-waiter.ts';

const never = new Promise<never>(() => undefined);
/** Timer and scheduling delay on a busy machine: the bound, not a speed. */
const SLOP_MS = 1000;

function receipt(status: StoredReceipt['status']): StoredReceipt {
  return {
    id: 'op1',
    key: 'k',
    type: 'put',
    version: 1,
    status,
    attempts: 0,
    acceptedAt: new Date(0).toISOString(),
    created: false,
    createdAtMs: null,
    expiresAtMs: null,
    acceptedAtMs: 0,
    appliedAtMs: null,
    decidedAtMs: null,
    deadline: 0,
    jobId: 'op1',
  };
}

/** A ledger whose receipt reads answer as `reads` says, call by call (the last one repeats). */
function fakeLedger(reads: (() => Promise<StoredReceipt | null>)[]): Ledger {
  let n = 0;
  const ledger = {
    receipt: () => (reads[Math.min(n++, reads.length - 1)] ?? (() => never))(),
    doneChannel: (opId: string) => `done:${opId}`,
  };
  return ledger as unknown as Ledger;
}

function fakeSubscriber(hang: boolean): Subscriber {
  return {
    subscribe: () => (hang ? never : Promise.resolve()),
    unsubscribe: () => (hang ? never : Promise.resolve()),
    onMessage: () => undefined,
  };
}

async function settle<T>(p: Promise<T>): Promise<[T | AppError, number]> {
  const t = performance.now();
  try {
    return [await p, performance.now() - t];
  } catch (err) {
    if (!(err instanceof AppError)) throw err;
    return [err, performance.now() - t];
  }
}

describe('a wait settles within its time plus WAIT_GRACE_MS whatever Redis does', () => {
  it('a receipt read that never answers: 503 QUEUE_UNAVAILABLE with Retry-After', async () => {
    const waiter = createOpWaiter({
      ledger: fakeLedger([() => never]),
      subscriber: fakeSubscriber(false),
    });
    const [r, ms] = await settle(waiter.wait('op1', 200));
    expect(r).toBeInstanceOf(AppError);
    expect((r as AppError).code).toBe('QUEUE_UNAVAILABLE');
    expect((r as AppError).headers).toMatchObject({ 'retry-after': '1' });
    expect(ms).toBeLessThan(200 + WAIT_GRACE_MS + SLOP_MS);
  });

  it('Redis stalls mid-wait (reads and pub/sub hang): 503 in time, and the waiter leaves', async () => {
    const waiter = createOpWaiter({
      ledger: fakeLedger([() => Promise.resolve(receipt('queued')), () => never]),
      subscriber: fakeSubscriber(true),
    });
    const [r, ms] = await settle(waiter.wait('op1', 300));
    expect((r as AppError).code).toBe('QUEUE_UNAVAILABLE');
    expect(ms).toBeLessThan(300 + WAIT_GRACE_MS + SLOP_MS);
    expect(waiter.size).toBe(0);
  });

  it('a failed read fails the wait at once (a Redis that is down fails fast)', async () => {
    const down = new AppError('QUEUE_UNAVAILABLE', 'queue Redis: connection refused');
    const waiter = createOpWaiter({
      ledger: fakeLedger([() => Promise.resolve(receipt('queued')), () => Promise.reject(down)]),
      subscriber: fakeSubscriber(false),
    });
    const [r] = await settle(waiter.wait('op1', 5000));
    expect(r).toBe(down);
    expect(waiter.size).toBe(0);
  });

  it('an op still pending when the time is up: its latest receipt', async () => {
    const waiter = createOpWaiter({
      ledger: fakeLedger([() => Promise.resolve(receipt('active'))]),
      subscriber: fakeSubscriber(false),
    });
    const [r] = await settle(waiter.wait('op1', 100));
    expect((r as StoredReceipt).status).toBe('active');
  });
});
