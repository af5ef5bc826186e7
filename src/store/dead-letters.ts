import type { Cluster, Redis } from 'ioredis';

import {
  AppError,
  type JobPayload,
  jobPayloadSchema,
  type KeyLayout,
  OP_TYPES,
  type OpType,
} from '../core/index.ts';
import { guard } from './guard.ts';
import { defineScript } from './lua.ts';

/**
 * The dead-letter queue in the queue Redis: ops that ran out of attempts (or could never succeed),
 * with the original op, last error, attempts and times. Entries are written by `finish.lua` in the
 * same step as the receipt's `dead` status. A replay is a new write (api/routes/dead-letters.ts).
 *
 * Each entry hash keeps a summary (key, type, version, times, error) beside `payload`, the op with
 * its value, so that listing reads summaries only: memory follows the page size, not the values.
 */

/** An entry without its op: what listing returns. Times are ms. */
export interface DeadLetterSummary {
  id: string;
  key: string;
  /** Null for a malformed job, or an entry written before summaries were kept. */
  type: OpType | null;
  version: number | null;
  attempts: number;
  acceptedAt: number | null;
  failedAt: number;
  error: { code: string; message: string };
}

export interface DeadLetter extends DeadLetterSummary {
  /** The original op, value included; null when the job itself was malformed. */
  op: JobPayload | null;
  raw: string;
}

export interface DeadLetterPage {
  items: DeadLetterSummary[];
  nextCursor: string | null;
}

export interface DeadLetters {
  /**
   * Newest first. `cursor` is the previous page's nextCursor; an entry present for the whole
   * paging appears exactly once. Rejects with QUEUE_UNAVAILABLE when any entry cannot be read
   * (never a short page), and with VALIDATION_FAILED for a cursor it did not issue.
   */
  list(opts: { limit: number; cursor?: string | undefined }): Promise<DeadLetterPage>;
  get(opId: string): Promise<DeadLetter | null>;
  remove(opId: string): Promise<boolean>;
  /** Takes the right to replay an entry for `ttlMs`; false when another replay holds it. */
  claim(opId: string, ttlMs: number): Promise<boolean>;
  release(opId: string): Promise<void>;
  size(): Promise<number>;
}

/** The summary fields, in the order HMGET asks for them. */
const FIELDS = [
  'key',
  'type',
  'version',
  'acceptedAt',
  'attempts',
  'failedAt',
  'errCode',
  'errMsg',
] as const;

const optInt = (s: string | null | undefined): number | null =>
  s === undefined || s === null || !/^\d{1,15}$/.test(s) ? null : Number(s);

const opType = (s: string | null | undefined): OpType | null =>
  OP_TYPES.find((t) => t === s) ?? null;

function summary(id: string, f: (name: (typeof FIELDS)[number]) => string | null | undefined) {
  return {
    id,
    key: f('key') ?? '',
    type: opType(f('type')),
    version: optInt(f('version')),
    attempts: optInt(f('attempts')) ?? 0,
    acceptedAt: optInt(f('acceptedAt')),
    failedAt: optInt(f('failedAt')) ?? 0,
    error: { code: f('errCode') ?? '', message: f('errMsg') ?? '' },
  } satisfies DeadLetterSummary;
}

function parse(id: string, h: Record<string, string>): DeadLetter {
  const raw = h.payload ?? '';
  let op: JobPayload | null = null;
  try {
    const r = jobPayloadSchema.safeParse(JSON.parse(raw));
    if (r.success) op = r.data;
  } catch {
    op = null;
  }
  const s = summary(id, (name) => h[name]);
  // Entries written before the summary fields were kept: take them from the op.
  return {
    ...s,
    type: s.type ?? op?.type ?? null,
    version: s.version ?? op?.version ?? null,
    acceptedAt: s.acceptedAt ?? op?.acceptedAt ?? null,
    op,
    raw,
  };
}

const CURSOR = /^(\d{1,15}):(.+)$/s;

/** Newest first: failure time descending, then op id descending in byte order. */
function newerFirst(a: { id: string; at: number }, b: { id: string; at: number }): number {
  return b.at - a.at || Buffer.compare(Buffer.from(b.id), Buffer.from(a.id));
}

export function createDeadLetters(deps: {
  redis: Redis | Cluster;
  layout: KeyLayout;
}): DeadLetters {
  const { redis, layout } = deps;
  const partitions = Array.from({ length: layout.count }, (_, i) => layout.queue(i));
  /**
   * The keys of the op's partition. An id that names no partition is looked up in partition 0,
   * as the ledger files it (ledger.finish), so an entry is found wherever it was written.
   */
  const of = (opId: string) => layout.queue(layout.ofOp(opId) ?? 0);
  const page = defineScript<string[]>(redis, 'dlq-page', 1);
  const q = <T>(p: Promise<T>) => guard(p, 'QUEUE_UNAVAILABLE');

  /** Summaries of `ids`, in order; entries removed since their id was read are left out. */
  async function summaries(ids: string[]): Promise<DeadLetterSummary[]> {
    if (ids.length === 0) return [];
    // One command per entry: entries of different partitions sit in different slots.
    const rows = await Promise.all(
      ids.map((id) =>
        redis.hmget(of(id).deadLetter(id), ...FIELDS).then(
          (row) => ({ row, err: undefined }),
          (err: unknown) => ({
            row: [] as (string | null)[],
            err: err instanceof Error ? err : new Error(String(err)),
          }),
        ),
      ),
    );
    const out: DeadLetterSummary[] = [];
    for (const [i, id] of ids.entries()) {
      const { row, err } = rows[i] ?? { row: [], err: new Error('no reply') };
      // One unreadable entry fails the page: answering without it, with a cursor past it, would
      // hide it for good.
      if (err) {
        throw new AppError('QUEUE_UNAVAILABLE', `queue Redis: dead letter ${id}: ${err.message}`, {
          cause: err,
          headers: { 'retry-after': '1' },
        });
      }
      const values = row;
      if (values[0] === null || values[0] === undefined) continue; // replayed or discarded meanwhile
      out.push(summary(id, (name) => values[FIELDS.indexOf(name)]));
    }
    return out;
  }

  return {
    async list({ limit, cursor }) {
      let after: [string, string] = ['', ''];
      if (cursor !== undefined && cursor !== '') {
        const m = CURSOR.exec(cursor);
        if (!m?.[1] || !m[2]) {
          throw new AppError('VALIDATION_FAILED', 'cursor: not a cursor from this listing', {
            errors: [{ path: 'cursor', message: 'not a cursor from this listing' }],
          });
        }
        after = [m[1], m[2]];
      }
      // Each partition pages its own entries in the same order; the first limit + 1 of their
      // union are among the first limit + 1 of each.
      const flats = await q(
        Promise.all(partitions.map((k) => page([k.deadLetters], [after[0], after[1], limit]))),
      );
      const entries: { id: string; at: number; score: string }[] = [];
      for (const flat of flats) {
        for (let i = 0; i + 1 < flat.length; i += 2) {
          const score = flat[i + 1] ?? '';
          entries.push({ id: flat[i] ?? '', at: Number(score), score });
        }
      }
      entries.sort(newerFirst);
      const more = entries.length > limit;
      if (more) entries.length = limit;
      const ids = entries.map((e) => e.id);
      const scores = entries.map((e) => e.score);
      const items = await summaries(ids);
      // The cursor is the last id of the page, whether or not its entry was still there.
      const last = ids.length - 1;
      return {
        items,
        nextCursor: more && last >= 0 ? `${scores[last] ?? ''}:${ids[last] ?? ''}` : null,
      };
    },

    async get(opId) {
      const k = of(opId);
      const h = await q(redis.hgetall(k.deadLetter(opId)));
      return h.payload === undefined ? null : parse(opId, h);
    },

    async remove(opId) {
      const k = of(opId);
      const [del] = await q(
        redis
          .multi()
          .del(k.deadLetter(opId))
          .zrem(k.deadLetters, opId)
          .del(k.deadLetterClaim(opId))
          .exec(),
      ).then((r) => (r ?? []).map(([, v]) => Number(v)));
      return del === 1;
    },

    async claim(opId, ttlMs) {
      const k = of(opId);
      return (await q(redis.set(k.deadLetterClaim(opId), '1', 'PX', ttlMs, 'NX'))) === 'OK';
    },

    async release(opId) {
      const k = of(opId);
      await q(redis.del(k.deadLetterClaim(opId)));
    },

    async size() {
      const counts = await q(Promise.all(partitions.map((k) => redis.zcard(k.deadLetters))));
      return counts.reduce((a, b) => a + b, 0);
    },
  };
}
