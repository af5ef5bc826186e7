import type { Redis } from 'ioredis';

import { type Condition, dataKeys, type OpType } from '../core/index.ts';
import { guard } from './guard.ts';
import { defineScript } from './lua.ts';

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
  key: string;
  type: OpType;
  version: number;
  valueJson?: string | undefined;
  ttlMs?: number | undefined;
  condition?: Condition | undefined;
  acceptedAt: number;
}

export type ApplyOutcomeKind = 'applied' | 'already' | 'superseded' | 'failed' | 'expired';
export interface ApplyOutcome {
  outcome: ApplyOutcomeKind;
  /** The key's applied version after the call. */
  version: number;
  created: boolean;
  createdAt: number;
  updatedAt: number;
  expiresAt: number | null;
}

export interface RecordStore {
  apply(op: ApplyInput): Promise<ApplyOutcome>;
  get(key: string): Promise<KvRecord | null>;
  /** Live keys after `after` (exclusive) in byte order, optionally under a prefix. */
  list(opts: { prefix?: string | undefined; after?: string | undefined; limit: number }): Promise<{
    items: ListedKey[];
    /** True when keys remain after `last`. */
    more: boolean;
    /** The last key scanned (live or not): where the next page starts. */
    last: string | undefined;
  }>;
  /** Converts up to `max` TTL-expired records into tombstones; returns how many. */
  reap(max: number): Promise<number>;
  ping(): Promise<void>;
}

const num = (s: string | null | undefined): number | null =>
  s === null || s === undefined || s === '' ? null : Number(s);

export function createRecordStore(deps: {
  redis: Redis;
  prefix: string;
  fenceWindowMs: number;
}): RecordStore {
  const { redis } = deps;
  const keys = dataKeys(deps.prefix);
  const applyScript = defineScript<(string | number)[]>(redis, 'apply', 3);
  const reapScript = defineScript<number>(redis, 'reap', 2);
  const recordPrefix = keys.record('');

  function isLive(v: string | null, d: string | null, e: number | null, now: number): boolean {
    return v !== null && d !== '1' && (e === null || e > now);
  }

  return {
    async apply(op) {
      const cond = op.condition;
      const r = await guard(
        applyScript(
          [keys.record(op.key), keys.index, keys.expiry],
          [
            op.key,
            op.type,
            op.version,
            op.valueJson ?? '',
            op.ttlMs ?? '',
            cond?.kind ?? '',
            cond?.kind === 'version' ? cond.version : '',
            op.acceptedAt,
            deps.fenceWindowMs,
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

    async get(key) {
      const [v, val, c, u, e, d] = await guard(
        redis.hmget(keys.record(key), 'v', 'val', 'c', 'u', 'e', 'd'),
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
    },

    async list({ prefix, after, limit }) {
      // Bounds are Buffers so that comparisons are byte-wise; 0xFF never occurs in UTF-8, so
      // prefix + 0xFF is above every key that starts with prefix.
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
      const names = await guard(
        redis.zrangebylex(keys.index, start, end, 'LIMIT', 0, limit + 1),
        'DATA_UNAVAILABLE',
      );
      const more = names.length > limit;
      const page = more ? names.slice(0, limit) : names;
      if (page.length === 0) return { items: [], more: false, last: undefined };
      const pipe = redis.pipeline();
      for (const k of page) pipe.hmget(keys.record(k), 'v', 'u', 'e', 'd');
      const rows = await guard(pipe.exec(), 'DATA_UNAVAILABLE');
      const now = Date.now();
      const items: ListedKey[] = [];
      page.forEach((k, i) => {
        const [err, row] = rows?.[i] ?? [null, null];
        if (err) throw err;
        const [v, u, e, d] = (row as (string | null)[] | null) ?? [];
        const exp = num(e);
        if (!isLive(v ?? null, d ?? null, exp, now)) return;
        items.push({ key: k, version: Number(v), updatedAt: Number(u), expiresAt: exp });
      });
      return { items, more, last: page[page.length - 1] };
    },

    async reap(max) {
      return guard(reapScript([keys.index, keys.expiry], [recordPrefix, max]), 'DATA_UNAVAILABLE');
    },

    async ping() {
      await guard(redis.ping(), 'DATA_UNAVAILABLE');
    },
  };
}
