import type { Cluster, Redis } from 'ioredis';

import { AppError, type KeyLayout, type OpType } from '../core/index.ts';
import { guard } from './guard.ts';
import { defineScript } from './lua.ts';
import { createReplicaAcks, primaryConnection } from './replica-acks.ts';

/** A live record as stored: the value stays JSON text end to end (never re-serialised). */
export interface KvRecord {
  key: string;
  valueJson: string;
  version: number;
  createdAt: number;
  updatedAt: number;
  expiresAt: number | null;
}

export interface ListedKey {
  key: string;
  version: number;
  updatedAt: number;
  expiresAt: number | null;
}

export interface ApplyInput {
  opId: string;
  key: string;
  type: OpType;
  version: number;
  valueJson?: string | undefined;
  ttlMs?: number | undefined;
  acceptedAt: number;
  /** Data Redis ms after which the script refuses to run (`late`): see resolve(). */
  deadline: number;
}

/**
 * `late`: the script ran after its deadline and did nothing. `conflict`: the op's version is held
 * by another op (issued twice after a queue Redis failover): nothing was written.
 */
export type ApplyOutcomeKind =
  'applied' | 'already' | 'superseded' | 'expired' | 'late' | 'conflict';
export interface ApplyOutcome {
  outcome: ApplyOutcomeKind;
  /** The key's applied version after the call. */
  version: number;
  created: boolean;
  createdAt: number;
  updatedAt: number;
  expiresAt: number | null;
}

/** A key's state at one instant of the data Redis clock (what a condition is decided against). */
export interface KeyState {
  /** Live at this version, or null when absent (never written, deleted or expired). */
  liveVersion: number | null;
  /** The data Redis clock when it was read (ms). */
  now: number;
}

/**
 * The final outcome of an op whose apply may have run or not: `wait` until the deadline passed
 * (ms left), `refused` (too old to apply, no effect), `applied`, `superseded`, or `none` (no
 * apply of it ran, and none ever will).
 */
export type Resolution =
  | { kind: 'wait'; ms: number }
  /** With what the apply did (as `apply` reports it), for the receipt. */
  | { kind: 'applied'; outcome: ApplyOutcome }
  | { kind: 'refused' | 'superseded' | 'none' | 'conflict' };

export interface RecordStore {
  apply(op: ApplyInput): Promise<ApplyOutcome>;
  /** The key's state and the data Redis clock, read together. */
  peek(key: string): Promise<KeyState>;
  /** What became of op `opId` (version `version`) once the data Redis is past `deadline`. */
  resolve(op: {
    opId: string;
    key: string;
    version: number;
    deadline: number;
  }): Promise<Resolution>;
  /**
   * An estimate of the data Redis clock (ms), from the offset measured at the last peek, resolve
   * or sync; `syncClock` measures it now.
   */
  clock(): number;
  syncClock(): Promise<void>;
  get(key: string): Promise<KvRecord | null>;
  /**
   * The key's record (or its absence), and whether MIN_REPLICA_ACKS replicas of the node that
   * answered hold every write it had made by then (true at once when no acks are asked for).
   */
  getReplicated(key: string): Promise<{ record: KvRecord | null; replicated: boolean }>;
  /** Live keys after `after` (exclusive) in byte order, optionally under a prefix. */
  list(opts: { prefix?: string | undefined; after?: string | undefined; limit: number }): Promise<{
    items: ListedKey[];
    /** True when keys remain after `last`. */
    more: boolean;
    /** The last key scanned (live or not): where the next page starts. */
    last: string | undefined;
  }>;
  /**
   * Whether MIN_REPLICA_ACKS replicas have every write the key's node had made by now (true at
   * once when no acks are asked for): called after an apply, before it is reported.
   */
  replicated(key: string): Promise<boolean>;
  /** Converts up to `max` TTL-expired records into tombstones; returns how many. */
  reap(max: number): Promise<number>;
  ping(): Promise<void>;
}

const num = (s: string | null | undefined): number | null =>
  s === null || s === undefined || s === '' ? null : Number(s);

export function createRecordStore(deps: {
  redis: Redis | Cluster;
  layout: KeyLayout;
  fenceWindowMs: number;
  minReplicaAcks?: number;
  replicaAckTimeoutMs?: number;
}): RecordStore {
  const { redis, layout } = deps;
  const minReplicaAcks = deps.minReplicaAcks ?? 0;
  const acks = createReplicaAcks(redis, minReplicaAcks, deps.replicaAckTimeoutMs ?? 1000);
  const partitions = Array.from({ length: layout.count }, (_, i) => layout.data(i));
  /** The data keys of the user key's partition. */
  const keysOf = (key: string) => layout.data(layout.of(key));
  const applyScript = defineScript<(string | number)[]>(redis, 'apply', 4);
  const peekScript = defineScript<number[]>(redis, 'peek', 1);
  const resolveScript = defineScript<(string | number)[]>(redis, 'resolve', 2);
  const reapScript = defineScript<number>(redis, 'reap', 2);

  function isLive(v: string | null, d: string | null, e: number | null, now: number): boolean {
    return v !== null && d !== '1' && (e === null || e > now);
  }

  /** A live record as read on `conn` (the client, or one cluster node's connection). */
  async function fetchRecord(conn: Redis | Cluster, key: string): Promise<KvRecord | null> {
    const [v, val, c, u, e, d] = await guard(
      conn.hmget(keysOf(key).record(key), 'v', 'val', 'c', 'u', 'e', 'd'),
      'DATA_UNAVAILABLE',
    );
    const exp = num(e);
    if (!isLive(v ?? null, d ?? null, exp, Date.now()) || val === null || val === undefined) {
      return null;
    }
    return {
      key,
      valueJson: val,
      version: Number(v),
      createdAt: Number(c),
      updatedAt: Number(u),
      expiresAt: exp,
    };
  }

  // Data Redis clock minus ours, measured from replies that carry Redis TIME (half the round trip
  // is the error bound, which only shifts deadlines a little: safety never depends on it).
  let offset = 0;
  const observe = (redisNow: number, sentAt: number) => {
    const local = (sentAt + Date.now()) / 2;
    offset = redisNow - local;
  };

  return {
    async apply(op) {
      const keys = keysOf(op.key);
      const r = await guard(
        applyScript(
          [keys.record(op.key), keys.index, keys.expiry, keys.refusal(op.opId)],
          [
            op.key,
            op.type,
            op.version,
            op.valueJson ?? '',
            op.ttlMs ?? '',
            op.acceptedAt,
            deps.fenceWindowMs,
            op.deadline,
            op.opId,
          ],
        ),
        'DATA_UNAVAILABLE',
      );
      const expiresAt = Number(r[5]);
      return {
        outcome: String(r[0]) as ApplyOutcomeKind,
        version: Number(r[1]),
        created: Number(r[2]) === 1,
        createdAt: Number(r[3]),
        updatedAt: Number(r[4]),
        expiresAt: expiresAt > 0 ? expiresAt : null,
      };
    },

    async peek(key) {
      const sentAt = Date.now();
      const [v, d, e, now] = await guard(
        peekScript([keysOf(key).record(key)], []),
        'DATA_UNAVAILABLE',
      );
      observe(Number(now), sentAt);
      const live = Number(v) > 0 && Number(d) !== 1 && (Number(e) === 0 || Number(e) > Number(now));
      return { liveVersion: live ? Number(v) : null, now: Number(now) };
    },

    async resolve(op) {
      const sentAt = Date.now();
      const keys = keysOf(op.key);
      const r = await guard(
        resolveScript(
          [keys.record(op.key), keys.refusal(op.opId)],
          [op.version, op.deadline, op.opId],
        ),
        'DATA_UNAVAILABLE',
      );
      const kind = String(r[0]);
      if (kind === 'wait') {
        const ms = Number(r[1]);
        offset = op.deadline - ms + 1 - (sentAt + Date.now()) / 2;
        return { kind, ms };
      }
      if (kind === 'applied') {
        const e = Number(r[4]);
        return {
          kind,
          outcome: {
            outcome: 'applied',
            version: op.version,
            created: Number(r[1]) === 1,
            createdAt: Number(r[2]),
            updatedAt: Number(r[3]),
            expiresAt: e > 0 ? e : null,
          },
        };
      }
      return { kind: kind as 'refused' | 'superseded' | 'none' | 'conflict' };
    },

    clock: () => Date.now() + offset,

    async syncClock() {
      const sentAt = Date.now();
      const [sec, micro] = await guard(redis.time(), 'DATA_UNAVAILABLE');
      observe(Number(sec) * 1000 + Math.floor(Number(micro) / 1000), sentAt);
    },

    get: (key) => fetchRecord(redis, key),

    async getReplicated(key) {
      if (minReplicaAcks <= 0) return { record: await fetchRecord(redis, key), replicated: true };
      const keys = keysOf(key);
      // Read and WAIT on one connection, to the slot's primary as the slot map names it now:
      // through the cluster client the read could be answered by another node than the one whose
      // replicas the WAIT counts (an ASK redirect while the slot migrates, a failover that moves
      // the slot while the read is in flight). That node's refusal (MOVED, ASK) is a shortfall.
      const conn = primaryConnection(redis, keys.record(key));
      if (!conn) return { record: null, replicated: false };
      let record: KvRecord | null;
      try {
        record = await fetchRecord(conn, key);
      } catch (err) {
        if (err instanceof AppError) throw err;
        return { record: null, replicated: false };
      }
      return { record, replicated: await guard(acks(keys.acks, conn), 'DATA_UNAVAILABLE') };
    },

    async list({ prefix, after, limit }) {
      let start: Buffer | string = '-';
      if (prefix) start = Buffer.concat([Buffer.from('['), Buffer.from(prefix)]);
      if (
        after !== undefined &&
        (!prefix || Buffer.compare(Buffer.from(after), Buffer.from(prefix)) >= 0)
      ) {
        start = Buffer.concat([Buffer.from('('), Buffer.from(after)]);
      }
      const end: Buffer | string = prefix
        ? Buffer.concat([Buffer.from('('), Buffer.from(prefix), Buffer.from([0xff])])
        : '+';
      // Each partition's index is in byte order; the first limit + 1 keys of their union are
      // among the first limit + 1 of each, merged. One command per partition (their indexes sit
      // in different slots, so no pipeline on a cluster); they leave together.
      const perPartition = await guard(
        Promise.all(
          partitions.map((k) =>
            redis.zrangebylexBuffer(k.index, start, end, 'LIMIT', 0, limit + 1),
          ),
        ),
        'DATA_UNAVAILABLE',
      );
      const names = perPartition
        .flat()
        .sort((a, b) => Buffer.compare(a, b))
        .slice(0, limit + 1)
        .map((b) => b.toString('utf8'));
      const more = names.length > limit;
      const page = more ? names.slice(0, limit) : names;
      if (page.length === 0) return { items: [], more: false, last: undefined };
      const rows = await guard(
        Promise.all(page.map((k) => redis.hmget(keysOf(k).record(k), 'v', 'u', 'e', 'd'))),
        'DATA_UNAVAILABLE',
      );
      const now = Date.now();
      const items: ListedKey[] = [];
      page.forEach((k, i) => {
        const [v, u, e, d] = rows[i] ?? [];
        const exp = num(e);
        if (!isLive(v ?? null, d ?? null, exp, now)) return;
        items.push({ key: k, version: Number(v), updatedAt: Number(u), expiresAt: exp });
      });
      return { items, more, last: page[page.length - 1] };
    },

    replicated: (key) => guard(acks(keysOf(key).acks), 'DATA_UNAVAILABLE'),

    async reap(max) {
      const counts = await guard(
        Promise.all(partitions.map((k) => reapScript([k.index, k.expiry], [k.record(''), max]))),
        'DATA_UNAVAILABLE',
      );
      return counts.reduce((a, b) => a + b, 0);
    },

    async ping() {
      await guard(redis.ping(), 'DATA_UNAVAILABLE');
    },
  };
}
