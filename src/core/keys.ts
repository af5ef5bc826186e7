/** Redis key names, all in one place. `p` is the configured KEY_PREFIX. */
export function queueKeys(p: string) {
  return {
    /** hash {n: last issued version, p: pending writes} per user key */
    version: (key: string) => `${p}ver:${key}`,
    /** hash per op id: the receipt */
    op: (id: string) => `${p}op:${id}`,
    /** zset of finished op ids by finish time, for the count cap */
    finished: `${p}ops:finished`,
    /**
     * hash per Idempotency-Key: {fp, id} while the op is open; a copy of its terminal receipt
     * afterwards, for the retention period
     */
    idempotency: (ik: string) => `${p}idem:${ik}`,
    /** pub/sub channel prefix: `${doneChannel}:<opId>` announces the op's terminal status */
    doneChannel: `${p}ops:done`,
    /** zset of accepted, unfinished op ids by acceptance time, for the orphan reconciler */
    open: `${p}ops:open`,
    /** hash per dead op: the original op (with its value), last error, attempts, times */
    deadLetter: (id: string) => `${p}dlq:${id}`,
    /** string per dead letter being replayed: one replay at a time (expires by itself) */
    deadLetterClaim: (id: string) => `${p}dlq-claim:${id}`,
    /** zset of dead-letter op ids by failure time */
    deadLetters: `${p}dlq`,
    /** string lock so that one worker at a time reconciles */
    reconcileLock: `${p}lock:reconcile`,
  };
}

export function dataKeys(p: string) {
  return {
    /** hash per user key: v, val, c, u, e (live) or v, d, u (tombstone) */
    record: (key: string) => `${p}r:${key}`,
    /** zset (all scores 0) of live keys, for lexicographic listing */
    index: `${p}idx`,
    /** zset of keys with a TTL by expiry time (ms), for the reaper */
    expiry: `${p}exp`,
    /**
     * string per op refused as older than the fencing window, so that an op whose apply timed out
     * can tell that refusal from an apply that never ran (apply.lua, resolve.lua). It lives in
     * the key's slot: the key is an argument so that partitioned layouts can tag it.
     */
    refusal: (_key: string, opId: string) => `${p}x:${opId}`,
  };
}
