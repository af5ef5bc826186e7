/**
 * The readers' check in the chaos run: no read may return a lower version of a key than a read
 * that had already completed before it started (real-time order, as a client can observe it).
 *
 * Two reads that overlap in time are not ordered: one sent to API 1 just before a write lands and
 * one sent to API 2 just after may come back in either order, so "saw 36 then 35" between
 * overlapping reads is not a regression (a chaos run with 3 keys flagged 10 such pairs, all
 * overlapping, under the older completion-order check).
 */
export class ReadOrderChecker {
  /** Per key: completed reads in completion order (end times ascend) with a running max. */
  private readonly done = new Map<string, { ends: number[]; maxUpTo: number[] }>();

  /**
   * Records a read of `key` that started at `startedAt` and ended at `endedAt` (same clock,
   * reads reported in completion order) and returned `version`. Returns the version it should
   * not have gone below, or null when it is in order.
   */
  record(key: string, startedAt: number, endedAt: number, version: number): number | null {
    let log = this.done.get(key);
    if (!log) {
      log = { ends: [], maxUpTo: [] };
      this.done.set(key, log);
    }
    // The last read that ended strictly before this one started.
    let lo = 0;
    let hi = log.ends.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((log.ends[mid] ?? 0) < startedAt) lo = mid + 1;
      else hi = mid;
    }
    const floor = lo === 0 ? 0 : (log.maxUpTo[lo - 1] ?? 0);
    log.ends.push(endedAt);
    log.maxUpTo.push(Math.max(log.maxUpTo.at(-1) ?? 0, version));
    return version < floor ? floor : null;
  }
}
