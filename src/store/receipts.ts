import { type OpReceipt, type OpStatus, TERMINAL_STATUSES } from '../core/index.ts';

/**
 * Receipts as the ledger stores them (a hash per op) and as the API shows them.
 */

/** A receipt plus the fields kept for answering `Prefer: wait` (never the value). */
export interface StoredReceipt extends OpReceipt {
  created: boolean;
  createdAtMs: number | null;
  expiresAtMs: number | null;
  acceptedAtMs: number;
  appliedAtMs: number | null;
  /** When a conditional write was decided (data Redis ms), or null for a blind write. */
  decidedAtMs: number | null;
  /** The latest data Redis ms by which an apply sent for it runs or never runs (0 = none sent). */
  deadline: number;
  /** The BullMQ job that carries the op now (the op id). */
  jobId: string;
}

const iso = (ms: number) => new Date(ms).toISOString();
const optNum = (s: string | undefined) => (s === undefined || s === '' ? null : Number(s));

/** A version read back from Redis: a positive integer, or the data is corrupt (never NaN). */
export function positive(v: unknown): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 1)
    throw new Error(`corrupt version in the ledger: ${String(v)}`);
  return n;
}

export function toReceipt(h: Record<string, string>): StoredReceipt | null {
  if (!h.id) return null;
  const acceptedAtMs = Number(h.acceptedAt);
  const appliedAtMs = optNum(h.appliedAt);
  const r: StoredReceipt = {
    id: h.id,
    key: h.key ?? '',
    type: h.type === 'delete' || h.type === 'create' ? h.type : 'put',
    version: positive(h.version),
    status: (h.status ?? 'queued') as OpStatus,
    attempts: Number(h.attempts ?? 0),
    acceptedAt: iso(acceptedAtMs),
    created: h.created === '1',
    createdAtMs: optNum(h.c),
    expiresAtMs: optNum(h.e),
    acceptedAtMs,
    appliedAtMs,
    decidedAtMs: optNum(h.decidedAt),
    deadline: Number(h.dl ?? 0),
    jobId: h.job ?? h.id,
  };
  if (appliedAtMs !== null) r.appliedAt = iso(appliedAtMs);
  if (r.decidedAtMs !== null) r.decidedAt = iso(r.decidedAtMs);
  if (r.expiresAtMs !== null && r.expiresAtMs > 0) r.expiresAt = iso(r.expiresAtMs);
  if (h.replayOf) r.replayOf = h.replayOf;
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
  if (r.decidedAt !== undefined) out.decidedAt = r.decidedAt;
  if (r.appliedAt !== undefined) out.appliedAt = r.appliedAt;
  if (r.expiresAt !== undefined) out.expiresAt = r.expiresAt;
  if (r.replayOf !== undefined) out.replayOf = r.replayOf;
  if (r.error !== undefined) out.error = r.error;
  return out;
}
