import type { AcceptedOp, Cond, EarlyAnswer, FinalRead, WriteKind } from './model.ts';
import { check } from './model.ts';

/**
 * Records what clients sent and what kvq answered, in the shape the sequential model judges
 * (chaos/model.ts): accepted ops with their final receipts, early 4xx answers with the version
 * they were decided after, and a final read of every key. Shared by the property test and the
 * chaos run.
 */

/** One write as a client sends it. */
export interface Write {
  key: string;
  kind: WriteKind;
  cond?: Cond | undefined;
  valueJson?: string | undefined;
  ttlSeconds?: number | undefined;
}

/** The kinds of write the property test and the chaos clients send. */
export type Shape =
  | 'put'
  | 'put-if-match'
  | 'put-if-match-any'
  | 'put-if-none-match'
  | 'create'
  | 'delete'
  | 'delete-if-match';

/** Relative weights: about half the writes are decided against the key's state. */
export const SHAPES: readonly [Shape, number][] = [
  ['put', 50],
  ['put-if-match', 14],
  ['put-if-match-any', 5],
  ['put-if-none-match', 5],
  ['create', 9],
  ['delete', 11],
  ['delete-if-match', 6],
];

/**
 * The write of `shape` to `key`: puts and creates carry `valueJson` (and `ttlSeconds` if given),
 * If-Match names `ifMatchVersion` (at least 1).
 */
export function writeOfShape(
  shape: Shape,
  key: string,
  valueJson: string,
  ifMatchVersion: number,
  ttlSeconds?: number,
): Write {
  const ifMatch = { kind: 'version', version: Math.max(1, ifMatchVersion) } as const;
  if (shape === 'delete') return { key, kind: 'delete' };
  if (shape === 'delete-if-match') return { key, kind: 'delete', cond: ifMatch };
  const w: Write = { key, kind: shape === 'create' ? 'create' : 'put', valueJson };
  if (shape === 'put-if-match') w.cond = ifMatch;
  if (shape === 'put-if-match-any') w.cond = { kind: 'exists' };
  if (shape === 'put-if-none-match') w.cond = { kind: 'absent' };
  if (ttlSeconds !== undefined) w.ttlSeconds = ttlSeconds;
  return w;
}

/** The HTTP request for a write: method, path, headers and body text. */
export function requestFor(w: Write): {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
} {
  const headers: Record<string, string> = {};
  if (w.cond?.kind === 'absent') headers['If-None-Match'] = '*';
  if (w.cond?.kind === 'exists') headers['If-Match'] = '*';
  if (w.cond?.kind === 'version') headers['If-Match'] = `"${String(w.cond.version)}"`;
  const ttl = w.ttlSeconds === undefined ? '' : `,"ttlSeconds":${String(w.ttlSeconds)}`;
  if (w.kind === 'delete') {
    return { method: 'DELETE', path: `/v1/keys/${encodeURIComponent(w.key)}`, headers };
  }
  headers['Content-Type'] = 'application/json';
  if (w.kind === 'create') {
    return {
      method: 'POST',
      path: '/v1/keys',
      headers,
      body: `{"key":${JSON.stringify(w.key)},"value":${w.valueJson ?? 'null'}${ttl}}`,
    };
  }
  return {
    method: 'PUT',
    path: `/v1/keys/${encodeURIComponent(w.key)}`,
    headers,
    body: `{"value":${w.valueJson ?? 'null'}${ttl}}`,
  };
}

function describe(w: {
  kind: WriteKind;
  cond?: Cond | undefined;
  valueJson?: string | undefined;
  ttlMs?: number | undefined;
  ttlSeconds?: number | undefined;
}): string {
  const c = w.cond;
  const cond =
    c === undefined
      ? ''
      : c.kind === 'absent'
        ? ' If-None-Match: *'
        : c.kind === 'exists'
          ? ' If-Match: *'
          : ` If-Match: "${String(c.version)}"`;
  const ttl = w.ttlMs ?? (w.ttlSeconds === undefined ? undefined : w.ttlSeconds * 1000);
  return `${w.kind}${cond}${w.valueJson === undefined ? '' : ` ${w.valueJson}`}${ttl === undefined ? '' : ` ttl ${String(ttl)} ms`}`;
}

const ms = (iso: unknown) => (typeof iso === 'string' ? Date.parse(iso) : undefined);

/** The parts of kvq's answers the history reads (a receipt, or a problem document). */
interface ReceiptBody {
  id: string;
  version: number;
  status: AcceptedOp['status'];
  error?: { code: string };
  decidedAt?: string;
  expiresAt?: string;
}
interface AnswerBody {
  op?: ReceiptBody;
  code?: EarlyAnswer['code'];
  decidedAfterVersion?: number;
  decidedAt?: string;
  currentVersion?: number | null;
}

/** One attempt of a write and what came back, for the dump of a flagged key. */
export interface Attempt {
  key: string;
  /** The client's Idempotency-Key (one per write, the same on every retry). */
  write: string;
  what: string;
  /** Client clock (Date.now()) when the answer, or its loss, was seen. */
  at: number;
  answer: string;
}

export class History {
  readonly ops = new Map<string, AcceptedOp>();
  readonly early: EarlyAnswer[] = [];
  /** Every attempt of every write, in the order the answers came (see `dump`). */
  readonly attempts: Attempt[] = [];
  /** Answers that are neither accepted nor an early 4xx (503s and the like), by status. */
  readonly other = new Map<number, number>();

  /**
   * Notes a write's answer. Returns the accepted op (202/2xx with a receipt), 'early' for a
   * decided 404/409/412, or null for anything else (not accepted: nothing to judge).
   */
  record(w: Write, status: number, answer: unknown): AcceptedOp | 'early' | null {
    const body = answer as AnswerBody | undefined;
    const op = body?.op;
    if (op && typeof op.id === 'string' && status >= 200 && status < 300) {
      const prev = this.ops.get(op.id);
      const entry: AcceptedOp = prev ?? {
        id: op.id,
        key: w.key,
        version: op.version,
        kind: w.kind,
        ...(w.cond ? { cond: w.cond } : {}),
        ...(w.valueJson !== undefined ? { valueJson: w.valueJson } : {}),
        ...(w.ttlSeconds !== undefined ? { ttlMs: w.ttlSeconds * 1000 } : {}),
      };
      entry.httpStatus = status;
      this.ops.set(op.id, entry);
      return entry;
    }
    // A 204 (delete waited for) carries no body: the caller records it with accepted().
    if (
      (status === 404 || status === 409 || status === 412) &&
      body?.code !== undefined &&
      body.decidedAfterVersion !== undefined
    ) {
      this.early.push({
        key: w.key,
        kind: w.kind,
        ...(w.cond ? { cond: w.cond } : {}),
        httpStatus: status,
        code: body.code,
        decidedAfterVersion: body.decidedAfterVersion,
        decidedAt: ms(body.decidedAt) ?? 0,
      });
      return 'early';
    }
    this.other.set(status, (this.other.get(status) ?? 0) + 1);
    return null;
  }

  /** Reads every accepted op's receipt (through `get`, `concurrency` at a time) into the history. */
  async collectReceipts(
    get: (opId: string) => Promise<{ status: number; body: unknown }>,
    { concurrency = 1 }: { concurrency?: number } = {},
  ) {
    const ops = [...this.ops.values()];
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.max(1, concurrency) }, async () => {
        for (let op = ops[next++]; op; op = ops[next++]) await this.readReceipt(op, get);
      }),
    );
  }

  private async readReceipt(
    op: AcceptedOp,
    get: (opId: string) => Promise<{ status: number; body: unknown }>,
  ) {
    const r = await get(op.id);
    const rec = (r.body as AnswerBody | undefined)?.op;
    if (r.status !== 200 || !rec) return;
    op.status = rec.status;
    if (rec.error?.code) op.errorCode = rec.error.code;
    const decided = ms(rec.decidedAt);
    if (decided !== undefined) op.decidedAt = decided;
    const expires = ms(rec.expiresAt);
    if (expires !== undefined) op.expiresAt = expires;
    else if (rec.status === 'applied' && op.ttlMs === undefined) op.expiresAt = null;
  }

  /** Notes one attempt's answer (or its loss) for `dump`. */
  noteAttempt(w: Write, write: string, answer: string): void {
    this.attempts.push({ key: w.key, write, what: describe(w), at: Date.now(), answer });
  }

  /**
   * What the model judged for `key`, to read next to its violations: the accepted ops in version
   * order with their receipts and answers, the early answers, every attempt of every write of the
   * key and the final read.
   */
  dump(key: string, finals: FinalRead[] = []): string {
    const lines = [`--- key "${key}"`];
    const ops = [...this.ops.values()]
      .filter((o) => o.key === key)
      .sort((a, b) => a.version - b.version);
    for (const o of ops) {
      lines.push(
        `  v${String(o.version)} ${o.id} ${describe(o)}: HTTP ${String(o.httpStatus ?? '-')}, receipt ${o.status ?? 'none'}${o.errorCode ? ` ${o.errorCode}` : ''}${o.decidedAt === undefined ? '' : ` decidedAt ${String(o.decidedAt)}`}${o.expiresAt ? ` expiresAt ${String(o.expiresAt)}` : ''}`,
      );
    }
    for (const e of this.early.filter((x) => x.key === key)) {
      lines.push(
        `  early ${String(e.httpStatus)} ${e.code} ${describe(e)} after v${String(e.decidedAfterVersion)} at ${String(e.decidedAt)}`,
      );
    }
    for (const a of this.attempts.filter((x) => x.key === key)) {
      lines.push(`  attempt ${a.write} ${a.what} at ${String(a.at)}: ${a.answer}`);
    }
    for (const f of finals.filter((x) => x.key === key)) {
      lines.push(
        `  final read at ${String(f.at)}: ${String(f.status)}${f.version === undefined ? '' : ` v${String(f.version)} ${f.valueJson ?? ''}`}`,
      );
    }
    return lines.join('\n');
  }

  keys(): string[] {
    return [...new Set([...this.ops.values()].map((o) => o.key))];
  }

  check(finals: FinalRead[], opts: { allowNonTerminal?: boolean } = {}) {
    return check({
      ops: [...this.ops.values()],
      early: this.early,
      finals,
      allowNonTerminal: opts.allowNonTerminal ?? false,
    });
  }
}
