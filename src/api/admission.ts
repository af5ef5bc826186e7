import { AppError, type ErrorCode } from '../core/index.ts';

/** One Redis' `INFO memory`: used_memory and maxmemory in bytes (max 0 = no limit set). */
export interface MemoryReading {
  used: number;
  max: number;
}

export interface AdmissionDeps {
  /** `INFO memory` of the queue Redis. */
  queueMemory(): Promise<MemoryReading>;
  /** `INFO memory` of the data Redis. */
  dataMemory(): Promise<MemoryReading>;
  /** Accepted ops not yet terminal (ZCARD of the ledger's open set: O(1)). */
  unfinished(): Promise<number>;
  /** At most this many unfinished ops (0 = no limit). */
  maxBacklog: number;
  /** A Redis is full at this share of its maxmemory. */
  memoryLimitPercent: number;
  /** The queue Redis is full at this many bytes used, whatever its maxmemory (0 = no budget). */
  queueMemoryMaxBytes: number;
  /** A reading older than this says nothing (its Redis stopped answering INFO). */
  staleAfterMs: number;
  now?: () => number;
}

/**
 * Whether a write may be accepted now. Decided before anything is written, so a refused write
 * leaves no trace: a write accepted into a full queue Redis could not be enqueued, and one
 * accepted while the data Redis is full could only fail when a worker applies it.
 */
export interface Admission {
  /**
   * Resolves when a write of about `bytes` may go ahead; rejects with BACKLOG_FULL, QUEUE_FULL or
   * DATA_FULL. What it lets in counts against both Redis until their next reading, so a burst
   * between two readings cannot overshoot the limit by more than one write.
   */
  check(bytes?: number): Promise<void>;
  /**
   * Reads both Redis' memory and the unfinished count. Run by one timer per process (about once
   * a second), never per request.
   */
  refresh(): Promise<void>;
}

interface Seen {
  reading: MemoryReading;
  at: number;
}

type FullCode = Extract<ErrorCode, 'QUEUE_FULL' | 'DATA_FULL'>;

const mb = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MB`;

/** What a write costs a Redis beyond its value (receipt, job or record, index entries). */
const RECORD_OVERHEAD_BYTES = 1024;

export function createAdmission(deps: AdmissionDeps): Admission {
  const now = deps.now ?? Date.now;
  const memory: Record<FullCode, Seen | undefined> = {
    QUEUE_FULL: undefined,
    DATA_FULL: undefined,
  };
  // The backlog is the last unfinished count plus the writes admitted since it was asked for:
  // exact enough within one process without a round trip per write. Only when that estimate
  // reaches the limit is the count read again before refusing (shared by concurrent writes).
  let unfinished = 0;
  let admittedSince = 0;
  /** Bytes let in since each Redis' last reading (value plus a record's overhead). */
  const bytesSince: Record<FullCode, number> = { QUEUE_FULL: 0, DATA_FULL: 0 };
  let counting: Promise<void> | undefined;

  function limitOf(code: FullCode, r: MemoryReading): number {
    const share = r.max > 0 ? (r.max * deps.memoryLimitPercent) / 100 : Infinity;
    const budget =
      code === 'QUEUE_FULL' && deps.queueMemoryMaxBytes > 0 ? deps.queueMemoryMaxBytes : Infinity;
    return Math.min(share, budget);
  }

  function checkMemory(code: FullCode, bytes: number): void {
    const seen = memory[code];
    // No recent reading: that Redis is down or slow, which the write itself will meet (a data
    // Redis that is down must not stop writes from being accepted).
    if (!seen || now() - seen.at > deps.staleAfterMs) return;
    const limit = limitOf(code, seen.reading);
    if (seen.reading.used + bytesSince[code] + bytes <= limit) return;
    const which = code === 'QUEUE_FULL' ? 'queue' : 'data';
    throw new AppError(
      code,
      `the ${which} Redis uses ${mb(seen.reading.used)}; writes stop at ${mb(limit)}; retry later`,
      { headers: { 'retry-after': '5' } },
    );
  }

  function count(): Promise<void> {
    counting ??= (async () => {
      const base = admittedSince;
      try {
        unfinished = await deps.unfinished();
        admittedSince -= base;
      } finally {
        counting = undefined;
      }
    })();
    return counting;
  }

  async function checkBacklog(): Promise<void> {
    if (deps.maxBacklog <= 0) return;
    if (unfinished + admittedSince >= deps.maxBacklog) {
      try {
        await count();
      } catch (err) {
        throw new AppError('QUEUE_UNAVAILABLE', `queue Redis: ${(err as Error).message}`, {
          cause: err,
          headers: { 'retry-after': '1' },
        });
      }
      const n = unfinished + admittedSince;
      if (n >= deps.maxBacklog) {
        throw new AppError(
          'BACKLOG_FULL',
          `${String(n)} writes are unfinished (limit ${String(deps.maxBacklog)}); retry shortly`,
          { headers: { 'retry-after': '2' } },
        );
      }
    }
    admittedSince++;
  }

  async function read(code: FullCode, probe: () => Promise<MemoryReading>): Promise<void> {
    const base = bytesSince[code];
    const reading = await probe();
    memory[code] = { reading, at: now() };
    bytesSince[code] -= base;
  }

  return {
    async check(bytes = 0) {
      const cost = bytes + RECORD_OVERHEAD_BYTES;
      checkMemory('QUEUE_FULL', cost);
      checkMemory('DATA_FULL', cost);
      await checkBacklog();
      bytesSince.QUEUE_FULL += cost;
      bytesSince.DATA_FULL += cost;
    },

    async refresh() {
      // Each reading on its own: one Redis down must not hide the other's state.
      await Promise.allSettled([
        read('QUEUE_FULL', () => deps.queueMemory()),
        read('DATA_FULL', () => deps.dataMemory()),
        deps.maxBacklog > 0 ? count() : Promise.resolve(),
      ]);
    },
  };
}
