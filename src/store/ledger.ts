import type { Redis } from 'ioredis';

import {
  type JobPayload,
  type OpReceipt,
  type OpStatus,
  type OpType,
  queueKeys,
  TERMINAL_STATUSES,
} from '../core/index.ts';
import { guard } from './guard.ts';
import { defineScript } from './lua.ts';

/**
 * The queue Redis side of an op: per-key version counters, pending counts, receipts and
 * Idempotency-Keys. Lives beside BullMQ's own keys so that a write can be accepted while the
 * data Redis is down.
 */

export type AcceptResult =
  | { kind: 'new'; version: number; pendingBefore: number; acceptedAt: number }
  | { kind: 'dup'; opId: string }
  | { kind: 'reused'; opId: string };

/** A receipt plus the fields kept for answering `Prefer: wait` (never the value). */
export interface StoredReceipt extends OpReceipt {
  created: boolean;
  createdAtMs: number | null;
  expiresAtMs: number | null;
  acceptedAtMs: number;
  appliedAtMs: number | null;
  /** The BullMQ job that carries the op now (the op id, or a replay's id). */
  jobId: string;
}

export interface FinishInput {
  opId: string;
  key: string;
  status: Exclude<OpStatus, 'queued' | 'active'>;
  attempts: number;
  error?: { code: string; message: string } | undefined;
  created?: boolean;
  createdAt?: number;
  expiresAt?: number | null;
  /** When the data Redis applied the op (its clock). */
  appliedAt?: number | undefined;
  /**
   * With status 'dead': the original op (value included) for the dead-letter queue, or the raw
   * job data when it did not even parse.
   */
  deadLetter?: JobPayload | string | undefined;
}

export interface AcceptInput {
  opId: string;
  key: string;
  type: OpType;
  fingerprint?: string | undefined;
  idempotencyKey?: string | undefined;
}

/** What a worker learns when it starts an op: the receipt's status before, and the op's version. */
export type StartResult =
  { status: OpStatus; version: number; acceptedAt: number } | { status: 'missing' };

export interface Ledger {
  accept(input: AcceptInput): Promise<AcceptResult>;
  unaccept(input: {
    opId: string;
    key: string;
    idempotencyKey?: string | undefined;
  }): Promise<void>;
  pending(key: string): Promise<number>;
  receipt(opId: string): Promise<StoredReceipt | null>;
  /** Marks the op active; returns the receipt's previous status and the op's version. */
  start(opId: string, attempt: number): Promise<StartResult>;
  /** Records a terminal status once and notifies waiters; returns the status that stands. */
  finish(input: FinishInput): Promise<OpStatus>;
  /** Accepted ops still not finished that were accepted more than `ageMs` ago (oldest first). */
  openOlderThan(ageMs: number, limit: number): Promise<string[]>;
  /** Drops an op id from the open list (its receipt is gone or terminal). */
  forgetOpen(opId: string): Promise<void>;
  /** A best-effort lock so that one process at a time reconciles; true when taken. */
  tryLock(name: 'reconcile', ttlMs: number, owner: string): Promise<boolean>;
  /** Channel on which `finish` announces an op. */
  doneChannel(opId: string): string;
  ping(): Promise<void>;
}

export function createLedger(deps: {
  redis: Redis;
  prefix: string;
  retentionMs: number;
  retentionCount: number;
}): Ledger {
  const { redis } = deps;
  const k = queueKeys(deps.prefix);
  const acceptScript = defineScript<(string | number)[]>(redis, 'accept', 4);
  const unacceptScript = defineScript<number>(redis, 'unaccept', 4);
  const startScript = defineScript<string[]>(redis, 'start', 1);
  const finishScript = defineScript<string>(redis, 'finish', 6);
  const receiptPrefix = k.op('');
  const idemTtlSeconds = Math.max(1, Math.ceil(deps.retentionMs / 1000));
  const channel = (opId: string) => `${k.doneChannel}:${opId}`;

  return {
    async accept({ opId, key, type, fingerprint, idempotencyKey }) {
      const r = await guard(
        acceptScript(
          [k.version(key), k.op(opId), k.idempotency(idempotencyKey ?? ''), k.open],
          [opId, key, type, idempotencyKey ? (fingerprint ?? '') : '', idemTtlSeconds],
        ),
        'QUEUE_UNAVAILABLE',
      );
      const kind = String(r[0]);
      if (kind === 'new') {
        return {
          kind,
          version: Number(r[1]),
          pendingBefore: Number(r[2]),
          acceptedAt: Number(r[3]),
        };
      }
      return { kind: kind === 'dup' ? 'dup' : 'reused', opId: String(r[1]) };
    },

    async unaccept({ opId, key, idempotencyKey }) {
      await guard(
        unacceptScript(
          [k.version(key), k.op(opId), k.idempotency(idempotencyKey ?? ''), k.open],
          [opId],
        ),
        'QUEUE_UNAVAILABLE',
      );
    },

    async pending(key) {
      const p = await guard(redis.hget(k.version(key), 'p'), 'QUEUE_UNAVAILABLE');
      return Math.max(0, Number(p ?? 0));
    },

    async receipt(opId) {
      const h = await guard(redis.hgetall(k.op(opId)), 'QUEUE_UNAVAILABLE');
      if (!h.id) return null;
      return toReceipt(h);
    },

    async start(opId, attempt) {
      const r = await guard(startScript([k.op(opId)], [attempt]), 'QUEUE_UNAVAILABLE');
      if (r[0] === 'missing') return { status: 'missing' };
      return { status: r[0] as OpStatus, version: Number(r[1]), acceptedAt: Number(r[2]) };
    },

    async finish(f) {
      const st = await guard(
        finishScript(
          [k.op(f.opId), k.version(f.key), k.finished, k.open, k.deadLetter(f.opId), k.deadLetters],
          [
            f.opId,
            f.status,
            f.error?.code ?? '',
            f.error?.message ?? '',
            deps.retentionMs,
            deps.retentionCount,
            receiptPrefix,
            channel(f.opId),
            f.created ? 1 : 0,
            f.createdAt ?? '',
            f.expiresAt ?? '',
            f.attempts,
            f.appliedAt ?? '',
            f.status !== 'dead' || f.deadLetter === undefined
              ? ''
              : typeof f.deadLetter === 'string'
                ? f.deadLetter
                : JSON.stringify(f.deadLetter),
            f.key,
          ],
        ),
        'QUEUE_UNAVAILABLE',
      );
      return st as OpStatus;
    },

    async openOlderThan(ageMs, limit) {
      const [sec, micro] = await guard(redis.time(), 'QUEUE_UNAVAILABLE');
      const now = Number(sec) * 1000 + Math.floor(Number(micro) / 1000);
      return guard(
        redis.zrangebyscore(k.open, '-inf', now - ageMs, 'LIMIT', 0, limit),
        'QUEUE_UNAVAILABLE',
      );
    },

    async forgetOpen(opId) {
      await guard(redis.zrem(k.open, opId), 'QUEUE_UNAVAILABLE');
    },

    async tryLock(_name, ttlMs, owner) {
      const r = await guard(
        redis.set(k.reconcileLock, owner, 'PX', ttlMs, 'NX'),
        'QUEUE_UNAVAILABLE',
      );
      if (r === 'OK') return true;
      // Re-entrant for the holder, so it keeps the lock while it runs every interval.
      if ((await guard(redis.get(k.reconcileLock), 'QUEUE_UNAVAILABLE')) === owner) {
        await guard(redis.pexpire(k.reconcileLock, ttlMs), 'QUEUE_UNAVAILABLE');
        return true;
      }
      return false;
    },

    doneChannel: channel,

    async ping() {
      await guard(redis.ping(), 'QUEUE_UNAVAILABLE');
    },
  };
}

const iso = (ms: number) => new Date(ms).toISOString();
const optNum = (s: string | undefined) => (s === undefined || s === '' ? null : Number(s));

function toReceipt(h: Record<string, string>): StoredReceipt {
  const acceptedAtMs = Number(h.acceptedAt);
  const appliedAtMs = optNum(h.appliedAt);
  const r: StoredReceipt = {
    id: h.id ?? '',
    key: h.key ?? '',
    type: h.type === 'delete' ? 'delete' : 'put',
    version: Number(h.version),
    status: (h.status ?? 'queued') as OpStatus,
    attempts: Number(h.attempts ?? 0),
    acceptedAt: iso(acceptedAtMs),
    created: h.created === '1',
    createdAtMs: optNum(h.c),
    expiresAtMs: optNum(h.e),
    acceptedAtMs,
    appliedAtMs,
    jobId: h.job ?? h.id ?? '',
  };
  if (appliedAtMs !== null) r.appliedAt = iso(appliedAtMs);
  if (h.errCode) r.error = { code: h.errCode, message: h.errMsg ?? '' };
  return r;
}

export function isTerminal(status: OpStatus): boolean {
  return TERMINAL_STATUSES.has(status);
}

/** The public receipt shape (drops the fields kept for `Prefer: wait`). */
export function publicReceipt(r: StoredReceipt): OpReceipt {
  const out: OpReceipt = {
    id: r.id,
    key: r.key,
    type: r.type,
    version: r.version,
    status: r.status,
    attempts: r.attempts,
    acceptedAt: r.acceptedAt,
  };
  if (r.appliedAt !== undefined) out.appliedAt = r.appliedAt;
  if (r.error !== undefined) out.error = r.error;
  return out;
}
