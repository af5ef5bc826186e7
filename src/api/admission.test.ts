import { describe, expect, it } from 'vitest';

import { AppError } from '../core/index.ts';
import { type AdmissionDeps, createAdmission, type MemoryReading } from './admission.ts';

const MB = 1024 * 1024;

function setup(over: Partial<AdmissionDeps> = {}) {
  const state: {
    queue: MemoryReading;
    data: MemoryReading;
    unfinished: number;
    counts: number;
    t: number;
    fail: Set<'queue' | 'data' | 'count'>;
  } = {
    queue: { used: 1 * MB, max: 10 * MB },
    data: { used: 1 * MB, max: 10 * MB },
    unfinished: 0,
    counts: 0,
    t: 0,
    fail: new Set<'queue' | 'data' | 'count'>(),
  };
  const admission = createAdmission({
    queueMemory: () =>
      state.fail.has('queue') ? Promise.reject(new Error('down')) : Promise.resolve(state.queue),
    dataMemory: () =>
      state.fail.has('data') ? Promise.reject(new Error('down')) : Promise.resolve(state.data),
    // A round trip: answered after the writes admitted so far were accepted.
    unfinished: async () => {
      state.counts++;
      await new Promise((r) => setTimeout(r, 1));
      if (state.fail.has('count')) throw new Error('down');
      return state.unfinished;
    },
    maxBacklog: 0,
    memoryLimitPercent: 90,
    queueMemoryMaxBytes: 0,
    staleAfterMs: 5000,
    now: () => state.t,
    ...over,
  });
  return { state, admission };
}

async function refusal(p: Promise<void>): Promise<AppError | undefined> {
  try {
    await p;
    return undefined;
  } catch (err) {
    if (err instanceof AppError) return err;
    throw err;
  }
}

describe('memory', () => {
  it('admits writes below the share of maxmemory, refuses them from it on', async () => {
    const { state, admission } = setup();
    await admission.refresh();
    expect(await refusal(admission.check())).toBeUndefined();
    state.queue = { used: 9 * MB, max: 10 * MB };
    await admission.refresh();
    const e = await refusal(admission.check());
    expect(e?.code).toBe('QUEUE_FULL');
    expect(e?.status).toBe(503);
    expect(e?.headers['retry-after']).toBe('5');
  });

  it('counts the bytes let in since the last reading: a burst of large values stops at the limit', async () => {
    const { state, admission } = setup();
    state.data = { used: 6 * MB, max: 10 * MB };
    await admission.refresh();
    // 9 MB is the limit: 3 MB of values fit between two readings, the fourth does not.
    for (let i = 0; i < 3; i++) expect(await refusal(admission.check(MB - 2048))).toBeUndefined();
    expect((await refusal(admission.check(MB - 2048)))?.code).toBe('DATA_FULL');
    // A new reading replaces the estimate.
    state.data = { used: 6 * MB, max: 10 * MB };
    await admission.refresh();
    expect(await refusal(admission.check(MB - 2048))).toBeUndefined();
  });

  it('names the data Redis when it is the full one', async () => {
    const { state, admission } = setup();
    state.data = { used: 9.5 * MB, max: 10 * MB };
    await admission.refresh();
    expect((await refusal(admission.check()))?.code).toBe('DATA_FULL');
  });

  it('never calls a Redis without maxmemory full, unless the queue budget says so', async () => {
    const { state, admission } = setup({ queueMemoryMaxBytes: 50 * MB });
    state.queue = { used: 40 * MB, max: 0 };
    state.data = { used: 400 * MB, max: 0 };
    await admission.refresh();
    expect(await refusal(admission.check())).toBeUndefined();
    state.queue = { used: 50 * MB, max: 0 };
    await admission.refresh();
    expect((await refusal(admission.check()))?.code).toBe('QUEUE_FULL');
  });

  it('the budget applies below maxmemory too', async () => {
    const { state, admission } = setup({ queueMemoryMaxBytes: 4 * MB });
    state.queue = { used: 5 * MB, max: 10 * MB };
    await admission.refresh();
    expect((await refusal(admission.check()))?.code).toBe('QUEUE_FULL');
  });

  it('forgets a reading its Redis stopped refreshing (a data Redis that is down must not block)', async () => {
    const { state, admission } = setup();
    state.data = { used: 10 * MB, max: 10 * MB };
    await admission.refresh();
    expect((await refusal(admission.check()))?.code).toBe('DATA_FULL');
    state.fail.add('data');
    state.t = 3000;
    await admission.refresh();
    expect((await refusal(admission.check()))?.code).toBe('DATA_FULL');
    state.t = 6000;
    await admission.refresh();
    expect(await refusal(admission.check())).toBeUndefined();
  });

  it('admits before the first reading', async () => {
    const { admission } = setup();
    expect(await refusal(admission.check())).toBeUndefined();
  });
});

describe('backlog', () => {
  it('counts the writes admitted since the last reading, so a burst stops at the limit', async () => {
    const { state, admission } = setup({ maxBacklog: 50 });
    state.unfinished = 10;
    await admission.refresh();
    // Each admitted write is accepted at once (an open op), as the ledger would do.
    const results = await Promise.all(
      Array.from({ length: 100 }, () =>
        refusal(
          admission.check().then(() => {
            state.unfinished++;
          }),
        ),
      ),
    );
    expect(results.filter((r) => r === undefined)).toHaveLength(40);
    expect(results.filter((r) => r?.code === 'BACKLOG_FULL')).toHaveLength(60);
    expect(results.find((r) => r)?.headers['retry-after']).toBe('2');
  });

  it('reads the count again before refusing, so writes resume as soon as ops finish', async () => {
    const { state, admission } = setup({ maxBacklog: 5 });
    await admission.refresh();
    for (let i = 0; i < 5; i++) await admission.check();
    state.unfinished = 5;
    expect((await refusal(admission.check()))?.code).toBe('BACKLOG_FULL');
    const before = state.counts;
    state.unfinished = 0; // a worker finished them
    expect(await refusal(admission.check())).toBeUndefined();
    expect(state.counts).toBe(before + 1);
  });

  it('asks Redis nothing per write while below the limit', async () => {
    const { state, admission } = setup({ maxBacklog: 1000 });
    await admission.refresh();
    const before = state.counts;
    for (let i = 0; i < 100; i++) await admission.check();
    expect(state.counts).toBe(before);
  });

  it('answers QUEUE_UNAVAILABLE when the count cannot be read at the limit', async () => {
    const { state, admission } = setup({ maxBacklog: 1 });
    await admission.check();
    state.fail.add('count');
    const e = await refusal(admission.check());
    expect(e?.code).toBe('QUEUE_UNAVAILABLE');
    expect(e?.headers['retry-after']).toBe('1');
  });

  it('MAX_BACKLOG=0 is no limit and never counts', async () => {
    const { state, admission } = setup({ maxBacklog: 0 });
    state.unfinished = 1_000_000;
    await admission.refresh();
    expect(await refusal(admission.check())).toBeUndefined();
    expect(state.counts).toBe(0);
  });
});
