import { createPartitioning, type Partitioning } from './partitions.ts';

/**
 * Redis key names, all in one place. `p` is the configured KEY_PREFIX followed by a partition's
 * hash tag (see keyLayout): every key of one partition hashes to one cluster slot.
 */
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
     * afterwards, for the retention period. Lives in the partition of the op's user key.
     */
    idempotency: (ik: string) => `${p}idem:${ik}`,
    /**
     * string per Idempotency-Key in the partition of the Idempotency-Key itself: `<fingerprint>
     * <op id>` of its first use, so that reusing it for a key of another partition is detected.
     */
    idempotencyHome: (ik: string) => `${p}ikey:${ik}`,
    /** sharded pub/sub channel prefix: `${doneChannel}:<opId>` announces the op's terminal status */
    doneChannel: `${p}ops:done`,
    /** zset of accepted, unfinished op ids by acceptance time, for the orphan reconciler */
    open: `${p}ops:open`,
    /** hash per dead op: the original op (with its value), last error, attempts, times */
    deadLetter: (id: string) => `${p}dlq:${id}`,
    /** string per dead letter being replayed: one replay at a time (expires by itself) */
    deadLetterClaim: (id: string) => `${p}dlq-claim:${id}`,
    /** zset of dead-letter op ids by failure time */
    deadLetters: `${p}dlq`,
    /** counter written right before a WAIT for replicas (see store/replica-acks.ts) */
    acks: `${p}acks`,
  };
}

export function dataKeys(p: string) {
  return {
    /** hash per user key: v, o, val, c, u, e (live) or v, o, d, u (tombstone) */
    record: (key: string) => `${p}r:${key}`,
    /** zset (all scores 0) of live keys, for lexicographic listing */
    index: `${p}idx`,
    /** zset of keys with a TTL by expiry time (ms), for the reaper */
    expiry: `${p}exp`,
    /**
     * string per op refused as older than the fencing window, so that an op whose apply timed out
     * can tell that refusal from an apply that never ran (apply.lua, resolve.lua).
     */
    refusal: (opId: string) => `${p}x:${opId}`,
    /** counter written right before a WAIT for replicas (see store/replica-acks.ts) */
    acks: `${p}acks`,
  };
}

export type QueueKeys = ReturnType<typeof queueKeys>;
export type DataKeys = ReturnType<typeof dataKeys>;

/** The whole layout: partitions, their keys on both Redis, their BullMQ queues, global keys. */
export interface KeyLayout extends Partitioning {
  queue(partition: number): QueueKeys;
  data(partition: number): DataKeys;
  /** The BullMQ queue of a partition: the tag in the name puts all its keys in one slot. */
  queueName(partition: number): string;
  /** Keys outside any partition (each a single key, so any node may hold it). */
  global: {
    /** string: the partition count this keyspace was written with */
    partitions: string;
    /** string lock so that one worker at a time reconciles */
    reconcileLock: string;
    /**
     * Prefix of the rate-limit counters (queue Redis): `<prefix>:k:<key id>` per API key and
     * `<prefix>:a:<address>` per client address, one string each with the window as its TTL.
     */
    rateLimits: string;
    /**
     * stream (data Redis) of admin actions, capped by AUDIT_LOG_MAX_ENTRIES; under its own hash
     * tag, so that it lives in one known slot whatever the prefix.
     */
    auditLog: string;
  };
}

export function keyLayout(opts: {
  prefix: string;
  queueName: string;
  partitions: number;
}): KeyLayout {
  const parts = createPartitioning(opts.partitions);
  const q = Array.from({ length: parts.count }, (_, i) =>
    queueKeys(`${opts.prefix}${parts.tag(i)}`),
  );
  const d = Array.from({ length: parts.count }, (_, i) =>
    dataKeys(`${opts.prefix}${parts.tag(i)}`),
  );
  const pick = <T>(list: T[], i: number): T => {
    const v = list[i];
    if (v === undefined) throw new Error(`no partition ${String(i)} of ${String(parts.count)}`);
    return v;
  };
  return {
    ...parts,
    queue: (i) => pick(q, i),
    data: (i) => pick(d, i),
    queueName: (i) => `${opts.queueName}${parts.tag(i)}`,
    global: {
      partitions: `${opts.prefix}partitions`,
      reconcileLock: `${opts.prefix}lock:reconcile`,
      rateLimits: `${opts.prefix}rl`,
      auditLog: `${opts.prefix}{audit}:log`,
    },
  };
}

/**
 * API keys in the data Redis, all under one hash tag (one cluster slot, so a create is one
 * MULTI): a hash per key by the SHA-256 digest of its secret, the id -> digest index and the ids
 * by creation time. `prefix` is KEY_PREFIX.
 */
export function apiKeyKeys(prefix: string) {
  const p = `${prefix}{api-keys}:`;
  return {
    /** hash per key: id, name, scope, rules (JSON), c, e?, r?, rl? (see store/api-keys.ts) */
    byDigest: (digest: string) => `${p}k:${digest}`,
    /** string per key id: the digest */
    id: (id: string) => `${p}id:${id}`,
    /** zset of key ids by creation time (ms) */
    ids: `${p}ids`,
  };
}
export type ApiKeyKeys = ReturnType<typeof apiKeyKeys>;
