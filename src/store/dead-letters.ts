import type { Redis } from 'ioredis';

import { type JobPayload, jobPayloadSchema, queueKeys } from '../core/index.ts';
import { guard } from './guard.ts';
import { defineScript } from './lua.ts';

/**
 * The dead-letter queue in the queue Redis: ops that ran out of attempts (or could never succeed),
 * with the original op, last error, attempts and times. Entries are written by `finish.lua` in the
 * same step as the receipt's `dead` status, and replayed through the normal queue (so fencing
 * decides again: a stale replay ends `superseded`).
 */

export interface DeadLetter {
  opId: string;
  key: string;
  error: { code: string; message: string };
  attempts: number;
  failedAt: number;
  /** The original op, value included; null when the job itself was malformed. */
  op: JobPayload | null;
  raw: string;
}

export interface DeadLetterPage {
  items: DeadLetter[];
  nextCursor: string | null;
}

export interface DeadLetters {
  /** Newest first. `cursor` is the previous page's nextCursor. */
  list(opts: { limit: number; cursor?: string | undefined }): Promise<DeadLetterPage>;
  get(opId: string): Promise<DeadLetter | null>;
  remove(opId: string): Promise<boolean>;
  /**
   * Takes an entry out for a replay under `jobId` and reopens its receipt. Returns the op, or
   * null when there is no such entry; 'unreplayable' for a malformed job.
   */
  take(opId: string, jobId: string): Promise<JobPayload | null | 'unreplayable'>;
  /** Op ids whose key starts with `prefix` (all when empty), oldest first. */
  ids(prefix?: string): Promise<string[]>;
  size(): Promise<number>;
}

function parse(opId: string, h: Record<string, string>): DeadLetter {
  const raw = h.payload ?? '';
  let op: JobPayload | null = null;
  try {
    const r = jobPayloadSchema.safeParse(JSON.parse(raw));
    if (r.success) op = r.data;
  } catch {
    op = null;
  }
  return {
    opId,
    key: h.key ?? '',
    error: { code: h.errCode ?? '', message: h.errMsg ?? '' },
    attempts: Number(h.attempts ?? 0),
    failedAt: Number(h.failedAt ?? 0),
    op,
    raw,
  };
}

export function createDeadLetters(deps: { redis: Redis; prefix: string }): DeadLetters {
  const { redis } = deps;
  const k = queueKeys(deps.prefix);
  const replay = defineScript<string | null>(redis, 'dlq-replay', 5);
  const q = <T>(p: Promise<T>) => guard(p, 'QUEUE_UNAVAILABLE');

  async function fetchMany(ids: string[]): Promise<DeadLetter[]> {
    if (ids.length === 0) return [];
    const pipe = redis.pipeline();
    for (const id of ids) pipe.hgetall(k.deadLetter(id));
    const rows = (await q(pipe.exec())) ?? [];
    const out: DeadLetter[] = [];
    ids.forEach((id, i) => {
      const h = rows[i]?.[1] as Record<string, string> | undefined;
      if (h?.payload !== undefined) out.push(parse(id, h));
    });
    return out;
  }

  return {
    async list({ limit, cursor }) {
      // Cursor = "<failedAt>:<opId>" of the last item; ties on failedAt are ordered by op id.
      let max = '+inf';
      let after: string | undefined;
      if (cursor) {
        const m = /^(\d+):(.+)$/.exec(cursor);
        if (m?.[1] && m[2]) {
          max = m[1];
          after = m[2];
        }
      }
      const raw = await q(
        redis.zrevrangebyscore(k.deadLetters, max, '-inf', 'WITHSCORES', 'LIMIT', 0, limit + 64),
      );
      const pairs: [string, number][] = [];
      for (let i = 0; i < raw.length; i += 2) pairs.push([raw[i] ?? '', Number(raw[i + 1])]);
      const fresh = pairs.filter(
        ([id, score]) => after === undefined || String(score) !== max || id < after,
      );
      const page = fresh.slice(0, limit);
      const items = await fetchMany(page.map(([id]) => id));
      const last = page.at(-1);
      const more = fresh.length > limit || (raw.length / 2 >= limit + 64 && page.length === limit);
      return { items, nextCursor: more && last ? `${String(last[1])}:${last[0]}` : null };
    },

    async get(opId) {
      const h = await q(redis.hgetall(k.deadLetter(opId)));
      return h.payload === undefined ? null : parse(opId, h);
    },

    async remove(opId) {
      const [del] = await q(
        redis.multi().del(k.deadLetter(opId)).zrem(k.deadLetters, opId).exec(),
      ).then((r) => (r ?? []).map(([, v]) => Number(v)));
      return del === 1;
    },

    async take(opId, jobId) {
      const entry = await this.get(opId);
      if (!entry) return null;
      if (!entry.op) return 'unreplayable';
      const op = entry.op;
      const payload = await q(
        replay(
          [k.deadLetter(opId), k.deadLetters, k.op(opId), k.version(op.key), k.open],
          [opId, jobId, op.key, op.type, String(op.version), String(op.acceptedAt)],
        ),
      );
      return payload ? op : null;
    },

    async ids(prefix = '') {
      const all = await q(redis.zrange(k.deadLetters, '0', '-1'));
      if (!prefix) return all;
      const pipe = redis.pipeline();
      for (const id of all) pipe.hget(k.deadLetter(id), 'key');
      const keys = (await q(pipe.exec())) ?? [];
      return all.filter((_, i) => {
        const key = keys[i]?.[1];
        return typeof key === 'string' && key.startsWith(prefix);
      });
    },

    size: () => q(redis.zcard(k.deadLetters)),
  };
}
