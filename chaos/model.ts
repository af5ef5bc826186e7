/**
 * The oracle for kvq's write guarantee: per key, every accepted write behaves as if the key's
 * writes were applied one at a time in version order. `check` replays each key's ops in that
 * order against a small sequential model and reports every outcome kvq gave that no serial order
 * allows. Pure: no I/O, no clock, no Redis.
 *
 * The model keeps a set of possible states per key rather than one, because some facts are not
 * known: an op still queued at the end (with `allowNonTerminal`, it may or may not take effect)
 * and the expiry of a TTL put whose receipt does not carry `expiresAt`, or the time of a decision
 * whose receipt has no `decidedAt` (a decision or read that hangs on either may go either way; it
 * is never flagged). Reported outcomes narrow the set: an op reported failed keeps only the states
 * in which it fails with that code, and one reported applied leaves the single state it wrote.
 * After a violation the replay follows what kvq reported, so one wrong answer is flagged once,
 * not again at every later op of the key.
 */

export type Cond = { kind: 'absent' } | { kind: 'exists' } | { kind: 'version'; version: number };
export type WriteKind = 'put' | 'create' | 'delete';

/** A write kvq accepted (202/2xx): it has an op id and a version. */
export interface AcceptedOp {
  id: string;
  key: string;
  version: number;
  kind: WriteKind;
  cond?: Cond;
  valueJson?: string;
  ttlMs?: number;
  /** What kvq reported at the end (GET /v1/ops/{id}); undefined if the receipt is gone. */
  status?: 'queued' | 'active' | 'applied' | 'superseded' | 'failed' | 'dead';
  errorCode?: string;
  /** For conditional ops: when it was decided (data-Redis ms, from the receipt). */
  decidedAt?: number;
  /** For applied puts with a TTL (receipt). */
  expiresAt?: number | null;
  /** The final HTTP answer the client got for the write (202, 200, 201, 204, 412, …), if any. */
  httpStatus?: number;
}

/** A write answered 404/409/412 without creating an op. */
export interface EarlyAnswer {
  key: string;
  kind: WriteKind;
  cond?: Cond;
  httpStatus: 404 | 409 | 412;
  code: 'KEY_NOT_FOUND' | 'KEY_EXISTS' | 'PRECONDITION_FAILED';
  /** The highest version accepted for the key when it was decided (0 = none). */
  decidedAfterVersion: number;
  /** Data-Redis ms of the decision. */
  decidedAt: number;
}

export interface FinalRead {
  key: string;
  status: 200 | 404;
  version?: number;
  valueJson?: string;
  at: number;
}

export interface CheckStats {
  keys: number;
  ops: number;
  applied: number;
  superseded: number;
  /** Reported failed with a condition code (PRECONDITION_FAILED, KEY_EXISTS, KEY_NOT_FOUND). */
  failed: number;
  /** Dead, or failed with OP_EXPIRED: allowed for any op, treated as never having happened. */
  noEffect: number;
  /** Queued, active or without a receipt and without a terminal HTTP answer. */
  nonTerminal: number;
  early: number;
  finals: number;
  /** The largest set of possible states any key reached. */
  maxStates: number;
}

export interface CheckInput {
  ops: AcceptedOp[];
  early: EarlyAnswer[];
  finals: FinalRead[];
  allowNonTerminal?: boolean;
}

/** Above this many possible states a key's later ops, early answers and reads are not checked. */
export const MAX_STATES = 64;

/** null = absent. `expiresAt`: null = no TTL, undefined = a TTL whose expiry is not known. */
type State = { version: number; valueJson?: string; expiresAt: number | null | undefined } | null;
/** The outcomes serial order allows: success, and/or failure with any of `fails`. */
interface Allowed {
  ok: boolean;
  fails: ReadonlySet<string>;
}
type Observed = { kind: 'ok' } | { kind: 'fail'; code: string } | { kind: 'none' | 'unknown' };

const CONDITION_CODES = new Set(['PRECONDITION_FAILED', 'KEY_EXISTS', 'KEY_NOT_FOUND']);
const HTTP_FAILURE: Partial<Record<number, string>> = {
  404: 'KEY_NOT_FOUND',
  409: 'KEY_EXISTS',
  412: 'PRECONDITION_FAILED',
};
const BUCKET = { ok: 'applied', fail: 'failed', none: 'noEffect', unknown: 'nonTerminal' } as const;

/** Live at `t`: true, false, or undefined when that hangs on an unknown expiry or time. */
function live(s: State, t: number | undefined): boolean | undefined {
  if (s === null) return false;
  if (s.expiresAt === null) return true;
  if (s.expiresAt === undefined || t === undefined) return undefined;
  return s.expiresAt > t;
}

/** What serial order allows for a write decided at `t` against state `s`. */
function decide(w: { kind: WriteKind; cond?: Cond }, s: State, t: number | undefined): Allowed {
  const cond: Cond | undefined =
    w.kind === 'create'
      ? { kind: 'absent' }
      : w.kind === 'delete'
        ? (w.cond ?? { kind: 'exists' })
        : w.cond;
  if (!cond) return { ok: true, fails: new Set() };
  const l = live(s, t);
  let holds: boolean | undefined;
  if (cond.kind === 'absent') holds = l === undefined ? undefined : !l;
  else if (cond.kind === 'exists') holds = l;
  else holds = s?.version === cond.version ? l : false;
  const fails = new Set<string>();
  if (holds !== true) {
    if (w.kind === 'create') fails.add('KEY_EXISTS');
    else if (w.kind === 'delete' && !w.cond) fails.add('KEY_NOT_FOUND');
    else fails.add('PRECONDITION_FAILED');
    // A conditional delete of a key that is not there may say so instead.
    if (w.kind === 'delete' && cond.kind !== 'absent' && l !== true) fails.add('KEY_NOT_FOUND');
  }
  return { ok: holds !== false, fails };
}

function apply(op: AcceptedOp): State {
  if (op.kind === 'delete') return null;
  const expiresAt = op.ttlMs ? (typeof op.expiresAt === 'number' ? op.expiresAt : undefined) : null;
  return op.valueJson === undefined
    ? { version: op.version, expiresAt }
    : { version: op.version, valueJson: op.valueJson, expiresAt };
}

function dedupe(states: State[]): State[] {
  const seen = new Map<string, State>();
  for (const s of states) seen.set(JSON.stringify(s ?? 'absent'), s);
  return [...seen.values()];
}

function showState(s: State): string {
  if (s === null) return 'absent';
  const exp = s.expiresAt === null ? '' : `, expires ${s.expiresAt ?? 'at an unknown time'}`;
  return `v${s.version}${s.valueJson === undefined ? '' : ` ${s.valueJson}`}${exp}`;
}
const showStates = (states: State[]) => states.map(showState).join(' | ');

function showWrite(w: { kind: WriteKind; cond?: Cond }): string {
  const c = w.cond;
  if (!c) return w.kind;
  if (c.kind === 'absent') return `${w.kind} If-None-Match: *`;
  if (c.kind === 'exists') return `${w.kind} If-Match: *`;
  return `${w.kind} If-Match: "${c.version}"`;
}

const showAllowed = (a: Allowed[]) =>
  [
    ...(a.some((x) => x.ok) ? ['success'] : []),
    ...new Set(a.flatMap((x) => [...x.fails])).values(),
  ].join(' or ');

const showObserved = (o: Observed) => (o.kind === 'fail' ? `failed ${o.code}` : o.kind);

/** The op's outcome from its receipt and HTTP answer, with any contradiction between them. */
function observe(op: AcceptedOp): { obs: Observed; problem?: string } {
  let fromStatus: Observed;
  if (op.status === 'applied' || op.status === 'superseded') fromStatus = { kind: 'ok' };
  else if (op.status === 'dead') fromStatus = { kind: 'none' };
  else if (op.status === 'failed') {
    const code = op.errorCode ?? '(none)';
    if (CONDITION_CODES.has(code)) fromStatus = { kind: 'fail', code };
    else if (code === 'OP_EXPIRED') fromStatus = { kind: 'none' };
    else return { obs: { kind: 'none' }, problem: `failed with unrecognised code ${code}` };
  } else fromStatus = { kind: 'unknown' };
  const h = op.httpStatus;
  const failCode = h === undefined ? undefined : HTTP_FAILURE[h];
  const fromHttp: Observed | undefined =
    h === 200 || h === 201 || h === 204
      ? { kind: 'ok' }
      : failCode
        ? { kind: 'fail', code: failCode }
        : undefined;
  if (!fromHttp || op.status === undefined) return { obs: fromHttp ?? fromStatus };
  if (showObserved(fromHttp) === showObserved(fromStatus)) return { obs: fromStatus };
  const problem = `answered HTTP ${h ?? 0} (${showObserved(fromHttp)}) but its receipt says ${op.status}${op.errorCode ? ` ${op.errorCode}` : ''}`;
  // A receipt still queued or active contradicts the terminal answer; judge the answer.
  return { obs: fromStatus.kind === 'unknown' ? fromHttp : fromStatus, problem };
}

/** Judges every reported outcome of a kvq run against the serial model (see the file comment). */
export function check(input: CheckInput): { violations: string[]; stats: CheckStats } {
  const violations: string[] = [];
  const stats: CheckStats = {
    keys: 0,
    ...{ ops: 0, applied: 0, superseded: 0, failed: 0, noEffect: 0, nonTerminal: 0 },
    ...{ early: input.early.length, finals: input.finals.length, maxStates: 1 },
  };

  // Rule 8: versions are positive integers, unique per key; an op id names one write.
  const byId = new Map<string, AcceptedOp>();
  const byKey = new Map<string, Map<number, AcceptedOp>>();
  for (const op of input.ops) {
    const name = `key "${op.key}" op ${op.id}`;
    if (!Number.isSafeInteger(op.version) || op.version < 1) {
      violations.push(`${name}: version ${String(op.version)} is not a positive integer`);
      continue;
    }
    const prev = byId.get(op.id);
    if (prev) {
      if (prev.key !== op.key || prev.version !== op.version)
        violations.push(
          `${name}: id reported for v${op.version} and key "${prev.key}" v${prev.version}`,
        );
      continue;
    }
    byId.set(op.id, op);
    const versions = byKey.get(op.key) ?? new Map<number, AcceptedOp>();
    byKey.set(op.key, versions);
    const dup = versions.get(op.version);
    if (dup)
      violations.push(`key "${op.key}": version ${op.version} given to ops ${dup.id} and ${op.id}`);
    else versions.set(op.version, op);
  }

  // Rules 1-5: replay each key in version order.
  const snapshots = new Map<string, { version: number; states: State[] }[]>();
  const overflowed = new Set<string>();
  for (const [key, versions] of byKey) {
    const ops = [...versions.values()].sort((a, b) => a.version - b.version);
    const observed: Observed[] = [];
    const snaps: { version: number; states: State[] }[] = [];
    snapshots.set(key, snaps);
    let states: State[] = [null];
    for (const op of ops) {
      const name = `key "${key}" op ${op.id} (v${op.version} ${showWrite(op)})`;
      const { obs, problem } = observe(op);
      observed.push(obs);
      if (problem) violations.push(`${name}: ${problem}`);
      stats.ops++;
      stats[op.status === 'superseded' ? 'superseded' : BUCKET[obs.kind]]++;
      const allowed = states.map((s) => decide(op, s, op.decidedAt));
      const reported = op.status ?? `HTTP ${op.httpStatus ?? 0}`;
      const expected = `serial order allows ${showAllowed(allowed)} (state before: ${showStates(states)})`;
      if (obs.kind === 'ok') {
        if (!allowed.some((a) => a.ok))
          violations.push(
            `${name}: reported ${reported}, a write that did not take effect in serial order; ${expected}`,
          );
        states = [apply(op)];
      } else if (obs.kind === 'fail') {
        const kept = states.filter((_, i) => allowed[i]?.fails.has(obs.code));
        if (kept.length > 0) states = kept;
        else violations.push(`${name}: reported failed ${obs.code}, but ${expected}`);
      } else if (obs.kind === 'unknown') {
        if (!input.allowNonTerminal)
          violations.push(`${name}: not terminal at the end (${op.status ?? 'no receipt'})`);
        if (allowed.some((a) => a.ok)) states = [...states, apply(op)];
      }
      states = dedupe(states);
      stats.maxStates = Math.max(stats.maxStates, states.length);
      if (states.length > MAX_STATES) {
        violations.push(
          `key "${key}": more than ${MAX_STATES} possible states after v${op.version}; the key's later ops, early answers and reads are not checked`,
        );
        overflowed.add(key);
        break;
      }
      snaps.push({ version: op.version, states });
    }
    // Rule 4: superseded = took effect and was overwritten, so a later write must have succeeded.
    ops.forEach((op, i) => {
      const later = observed.slice(i + 1);
      if (op.status === 'superseded' && !later.some((o) => o.kind === 'ok' || o.kind === 'unknown'))
        violations.push(
          `key "${key}" op ${op.id} (v${op.version}): reported superseded, but no later write of the key succeeded`,
        );
    });
  }
  stats.keys = byKey.size;

  const statesAfter = (key: string, version: number): State[] => {
    const snaps = snapshots.get(key) ?? [];
    return snaps.findLast((s) => s.version <= version)?.states ?? [null];
  };

  // Rule 6: an early 4xx must be a failure with that code in some allowed state.
  for (const e of input.early) {
    if (overflowed.has(e.key)) continue;
    const name = `key "${e.key}" early ${e.httpStatus} ${e.code} (${showWrite(e)} after v${e.decidedAfterVersion} at ${e.decidedAt})`;
    if (HTTP_FAILURE[e.httpStatus] !== e.code)
      violations.push(`${name}: HTTP ${e.httpStatus} does not go with ${e.code}`);
    const states = statesAfter(e.key, e.decidedAfterVersion);
    const allowed = states.map((s) => decide(e, s, e.decidedAt));
    if (allowed.some((a) => a.fails.has(e.code))) continue;
    const what = allowed.some((a) => a.fails.size > 0)
      ? 'the wrong code'
      : 'a write that would have succeeded';
    violations.push(
      `${name}: early 4xx for ${what}; serial order allows ${showAllowed(allowed)} (state: ${showStates(states)})`,
    );
  }

  // Rule 7: a final read must match the final state at its time.
  for (const r of input.finals) {
    if (overflowed.has(r.key)) continue;
    const states = statesAfter(r.key, Number.POSITIVE_INFINITY);
    const ok =
      r.status === 404
        ? states.some((s) => live(s, r.at) !== true)
        : states.some(
            (s) =>
              s !== null &&
              live(s, r.at) !== false &&
              s.version === r.version &&
              (s.valueJson === undefined || s.valueJson === r.valueJson),
          );
    if (ok) continue;
    const read = r.status === 404 ? '404' : `200 v${String(r.version)} ${r.valueJson ?? ''}`;
    violations.push(
      `key "${r.key}" final read at ${r.at}: got ${read.trim()}, but the serial state is ${showStates(states)}`,
    );
  }
  return { violations, stats };
}
