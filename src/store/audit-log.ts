import type { Cluster, Redis } from 'ioredis';

import { AppError } from '../core/index.ts';
import { guard } from './guard.ts';

/**
 * The audit log of admin actions: a Redis stream in the data Redis, capped at about `maxEntries`
 * (XADD MAXLEN ~: Redis trims whole stream nodes, so a little more may stay). Each entry says who
 * (the principal's key id, or "anonymous" without authentication) did what to which target, how
 * it ended, and under which request (and trace) id. Read newest first through the admin API.
 */

export const AUDIT_ACTIONS = [
  'key.create',
  'key.revoke',
  'dead_letter.replay',
  'dead_letter.discard',
  'dead_letter.replay_all',
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

/** ok: done; refused: a client error (4xx code); failed: the server could not do it (5xx). */
export const AUDIT_OUTCOMES = ['ok', 'refused', 'failed'] as const;
export type AuditOutcome = (typeof AUDIT_OUTCOMES)[number];

/** What a caller records. */
export interface AuditRecord {
  actor: string;
  action: AuditAction;
  /** What the action was about: an op id, a key id, a prefix ("*" for everything). */
  target: string;
  outcome: AuditOutcome;
  /** The error code of a refused or failed action. */
  code?: string | undefined;
  /** A short account of the result, e.g. counts of a replay-all. */
  detail?: string | undefined;
  requestId: string;
  traceId?: string | undefined;
}

/**
 * A stored entry: the record, its stream id (the paging cursor) and its time (ms). Action and
 * outcome are read back as stored, so that entries of a newer version still list.
 */
export interface AuditEntry extends Omit<AuditRecord, 'action' | 'outcome'> {
  id: string;
  time: number;
  action: string;
  outcome: string;
}

export interface AuditPage {
  items: AuditEntry[];
  nextCursor: string | null;
}

export interface AuditLog {
  /** Appends one entry and answers its id; rejects when the data Redis cannot take it. */
  append(record: AuditRecord): Promise<string>;
  /**
   * Newest first. `cursor` is the previous page's nextCursor (a stream id); an entry present for
   * the whole paging appears exactly once. Rejects with INVALID_CURSOR for any other cursor.
   */
  page(opts: { limit: number; cursor?: string | undefined }): Promise<AuditPage>;
}

const STREAM_ID = /^\d{1,20}-\d{1,20}$/;

const MAX_ID_PART = 2n ** 64n - 1n;

/**
 * Whether `id` is a stream id with an id before it: each part at most 2^64-1, and not `0-0`
 * (Redis refuses the exclusive `(0-0` as an end with an error, not an empty page).
 */
function isPageableId(id: string): boolean {
  if (!STREAM_ID.test(id)) return false;
  const [ms = '', seq = ''] = id.split('-');
  const a = BigInt(ms);
  const b = BigInt(seq);
  return a <= MAX_ID_PART && b <= MAX_ID_PART && a + b > 0n;
}

/** A stream entry as an AuditEntry. */
function parse(id: string, flat: string[]): AuditEntry {
  const f = new Map<string, string>();
  for (let i = 0; i + 1 < flat.length; i += 2) f.set(flat[i] ?? '', flat[i + 1] ?? '');
  const entry: AuditEntry = {
    id,
    time: Number(id.slice(0, id.indexOf('-'))),
    actor: f.get('actor') ?? '',
    action: f.get('action') ?? '',
    target: f.get('target') ?? '',
    outcome: f.get('outcome') ?? '',
    requestId: f.get('requestId') ?? '',
  };
  for (const name of ['code', 'detail', 'traceId'] as const) {
    const v = f.get(name);
    if (v !== undefined) entry[name] = v;
  }
  return entry;
}

export function createAuditLog(deps: {
  redis: Redis | Cluster;
  /** The stream's key (KeyLayout.global.auditLog). */
  key: string;
  maxEntries: number;
}): AuditLog {
  const { redis, key, maxEntries } = deps;
  const d = <T>(p: Promise<T>) => guard(p, 'DATA_UNAVAILABLE');
  return {
    async append(record) {
      const fields: string[] = [
        'actor',
        record.actor,
        'action',
        record.action,
        'target',
        record.target,
        'outcome',
        record.outcome,
        'requestId',
        record.requestId,
      ];
      for (const name of ['code', 'detail', 'traceId'] as const) {
        const v = record[name];
        if (v !== undefined) fields.push(name, v);
      }
      const id = await d(redis.xadd(key, 'MAXLEN', '~', maxEntries, '*', ...fields));
      return id ?? '';
    },

    async page({ limit, cursor }) {
      let end = '+';
      if (cursor !== undefined && cursor !== '') {
        if (!isPageableId(cursor)) {
          throw new AppError('INVALID_CURSOR', 'cursor: not a cursor from this listing');
        }
        end = `(${cursor}`;
      }
      const rows = await d(redis.xrevrange(key, end, '-', 'COUNT', limit + 1));
      const more = rows.length > limit;
      const items = rows.slice(0, limit).map(([id, flat]) => parse(id, flat));
      const last = items.at(-1);
      return { items, nextCursor: more && last ? last.id : null };
    },
  };
}
