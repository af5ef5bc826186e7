import { History, requestFor, SHAPES, type Write, writeOfShape } from './history.ts';
import { ReadOrderChecker } from './read-order.ts';

/**
 * The chaos run's clients: writers that send blind and conditional writes, creates and deletes
 * and retry a lost or 5xx answer with the same Idempotency-Key (kvq then answers the original
 * op), and readers that check real-time read order. What kvq answered goes into a History for the
 * sequential model (chaos/model.ts).
 */

const WEIGHT = SHAPES.reduce((n, [, w]) => n + w, 0);
/** How long a writer keeps retrying one write while the run is on. */
export const WRITE_PATIENCE_MS = 30_000;
const WRITE_TIMEOUT_MS = 5000;

/** A write whose outcome the client does not know yet: how it was sent, and what came back. */
export interface PendingWrite {
  w: Write;
  idempotencyKey: string;
  /** Some attempt's answer was lost (connection error, timeout, 5xx other than 503). */
  lost: boolean;
  /** Sent with `Prefer: wait`: an applied answer sets a floor for later reads of the key. */
  wait: boolean;
}

/** 503s after which kvq may still apply the write (accepted, not confirmed by the replicas). */
const UNKNOWN_OUTCOME_CODES = new Set(['WRITE_NOT_REPLICATED']);

type Outcome = 'final' | 'retry';

export interface Traffic {
  readonly history: History;
  readonly counts: {
    sent: number;
    /** Every attempt's answer: "202", "412 PRECONDITION_FAILED", "503 KEY_BUSY", "no answer". */
    answers: Map<string, number>;
    retries: number;
    /** Writes answered 503 on every attempt for WRITE_PATIENCE_MS: not accepted. */
    refused: number;
    reads: number;
    regressions: number;
    /** 503s that leave the outcome unknown (the write may still take effect). */
    unknownOutcome: number;
    /**
     * Reads that returned a lower version than one an earlier reported-applied write set, or
     * than one an earlier `consistency=replicated` read returned.
     */
    staleReads: number;
    /** Reads sent with `consistency=replicated` (every other read), and those answered 503. */
    replicatedReads: number;
    readsNotReplicated: number;
  };
  /** performance.now() of the last accepted write (202 or a waited 2xx). */
  lastAcceptedAt(): number;
  readonly violations: string[];
  /** Writes whose answers were lost and that got no definitive answer in time. */
  readonly unresolved: PendingWrite[];
  write(seq: number): Promise<void>;
  /** Retries `p` until it gets a definitive answer or `until`; true when it did. */
  resolve(p: PendingWrite, until: number): Promise<boolean>;
  read(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The parts of an answer that place it in a key's history: op, version, status, code. */
function summarise(body: unknown): string {
  type Field = string | number | null | undefined;
  const b = body as
    | {
        op?: { id?: Field; version?: Field; status?: Field };
        code?: Field;
        decidedAfterVersion?: Field;
        currentVersion?: Field;
        opId?: Field;
      }
    | undefined;
  const f = (x: Field) => (x === undefined ? '' : String(x));
  if (!b) return '(no body)';
  if (b.op) return `op ${f(b.op.id)} v${f(b.op.version)} ${f(b.op.status)}`;
  const parts = [f(b.code)];
  if (b.opId !== undefined) parts.push(`op ${f(b.opId)}`);
  if (b.decidedAfterVersion !== undefined) parts.push(`after v${f(b.decidedAfterVersion)}`);
  if (b.currentVersion !== undefined) parts.push(`current ${f(b.currentVersion)}`);
  return parts.join(' ');
}

export function createTraffic(opts: {
  urls: () => string[];
  keys: number;
  runId: string;
  keyName: (i: number) => string;
  /**
   * With failover topologies a read may see a value its primary had not yet replicated, which a
   * failover then loses: readers count such regressions instead of flagging them. A read must
   * still never go below a version that was reported applied before it started.
   */
  readsMayRegress?: boolean;
}): Traffic {
  const history = new History();
  const readOrder = new ReadOrderChecker();
  /** The last version a client saw per key: what an If-Match is built from. */
  const seen = new Map<string, number>();
  /** Which write (Idempotency-Key) each op id answered, to catch one id given to two writes. */
  const opOwner = new Map<string, string>();
  const counts: Traffic['counts'] = {
    sent: 0,
    answers: new Map(),
    retries: 0,
    refused: 0,
    reads: 0,
    regressions: 0,
    unknownOutcome: 0,
    staleReads: 0,
    replicatedReads: 0,
    readsNotReplicated: 0,
  };
  let lastAccepted = 0;
  /**
   * Per key: versions reported applied (`Prefer: wait`) or returned by a replicated read, with
   * when the client heard it: no later read may go below them, failover or not.
   */
  const appliedFloors = new Map<string, { at: number; version: number }[]>();
  const addFloor = (key: string, version: number) => {
    const list = appliedFloors.get(key) ?? [];
    list.push({ at: performance.now(), version });
    appliedFloors.set(key, list);
  };
  const floorBefore = (key: string, t: number) => {
    let v = 0;
    for (const f of appliedFloors.get(key) ?? []) if (f.at < t && f.version > v) v = f.version;
    return v;
  };
  const violations: string[] = [];
  const unresolved: PendingWrite[] = [];
  const tally = (what: string) => counts.answers.set(what, (counts.answers.get(what) ?? 0) + 1);
  const saw = (key: string, version: number) => {
    seen.set(key, Math.max(seen.get(key) ?? 0, version));
  };

  function nextWrite(seq: number): Write {
    const key = opts.keyName(Math.floor(Math.random() * opts.keys));
    let pick = Math.random() * WEIGHT;
    const shape = SHAPES.find(([, w]) => (pick -= w) < 0)?.[0] ?? 'put';
    const skew = Math.random() < 0.8 ? 0 : Math.floor(Math.random() * 5) - 2;
    const ttl = shape !== 'delete' && Math.random() < 0.05 ? 1 + (seq % 3) : undefined;
    const w = writeOfShape(shape, key, String(seq), (seen.get(key) ?? 0) + skew, ttl);
    return w;
  }

  /** One attempt: records a definitive answer in the history, or says to retry. */
  async function attempt(p: PendingWrite, n: number, seq: number): Promise<Outcome> {
    const list = opts.urls();
    const url = list[(seq + n) % list.length] ?? '';
    const req = requestFor(p.w);
    let status: number;
    let body: unknown;
    try {
      const r = await fetch(`${url}${req.path}`, {
        method: req.method,
        headers: {
          ...req.headers,
          'Idempotency-Key': p.idempotencyKey,
          ...(p.wait ? { Prefer: 'wait=5' } : {}),
        },
        ...(req.body !== undefined ? { body: req.body } : {}),
        signal: AbortSignal.timeout(WRITE_TIMEOUT_MS),
      });
      status = r.status;
      const text = await r.text();
      body = text ? (JSON.parse(text) as unknown) : undefined;
    } catch (err) {
      // The API died, timed out or cut the answer: the write may or may not have been accepted.
      const lost = (err as Error).name === 'TimeoutError' ? 'no answer (timeout)' : 'no answer';
      tally(lost);
      history.noteAttempt(p.w, p.idempotencyKey, `${lost} from ${url}`);
      p.lost = true;
      return 'retry';
    }
    const code = (body as { code?: unknown } | undefined)?.code;
    tally(typeof code === 'string' ? `${String(status)} ${code}` : String(status));
    history.noteAttempt(p.w, p.idempotencyKey, `${String(status)} from ${url}: ${summarise(body)}`);
    if (status >= 500) {
      // 503 is kvq saying it did not accept this attempt, except the codes that say the outcome
      // is unknown; any other 5xx leaves it open too.
      if (status !== 503) p.lost = true;
      else if (typeof code === 'string' && UNKNOWN_OUTCOME_CODES.has(code)) {
        counts.unknownOutcome++;
        p.lost = true;
      }
      return 'retry';
    }
    const recorded = history.record(p.w, status, body);
    if (recorded === 'early') {
      const current = (body as { currentVersion?: unknown }).currentVersion;
      if (typeof current === 'number') saw(p.w.key, current);
      return 'final';
    }
    if (recorded === null) {
      violations.push(
        `${req.method} ${req.path} (${p.idempotencyKey}): unexpected answer ${String(status)} ${JSON.stringify(body)}`,
      );
      return 'final';
    }
    const owner = opOwner.get(recorded.id);
    if (owner !== undefined && owner !== p.idempotencyKey) {
      violations.push(
        `op ${recorded.id} answered two writes: Idempotency-Keys ${owner} and ${p.idempotencyKey}`,
      );
    }
    opOwner.set(recorded.id, p.idempotencyKey);
    lastAccepted = performance.now();
    const waited = (body as { op?: { status?: unknown } } | undefined)?.op?.status;
    if (waited === 'applied' && p.w.kind !== 'delete') addFloor(p.w.key, recorded.version);
    if (recorded.key !== p.w.key) {
      violations.push(
        `op ${recorded.id} answered a write of ${p.w.key} but is for ${recorded.key}`,
      );
    }
    saw(p.w.key, recorded.version);
    return 'final';
  }

  async function resolve(p: PendingWrite, until: number): Promise<boolean> {
    const seq = Number(p.idempotencyKey.split('-').at(-1));
    for (let n = 0; Date.now() < until; n++) {
      if ((await attempt(p, n, seq)) === 'final') return true;
      counts.retries++;
      await sleep(100 + Math.random() * 200);
    }
    return false;
  }

  return {
    history,
    counts,
    violations,
    unresolved,
    resolve,
    lastAcceptedAt: () => lastAccepted,
    async write(seq) {
      counts.sent++;
      const w = nextWrite(seq);
      const p: PendingWrite = {
        w,
        idempotencyKey: `${opts.runId}-${String(seq)}`,
        lost: false,
        // Not a delete: its waited answer (204) carries no receipt, so the op could not be judged.
        wait: seq % 5 === 0 && w.kind !== 'delete',
      };
      if (await resolve(p, Date.now() + WRITE_PATIENCE_MS)) return;
      // Only 503s came back: kvq accepted none of the attempts. A lost answer leaves it open.
      if (p.lost) unresolved.push(p);
      else counts.refused++;
    },
    async read() {
      const key = opts.keyName(Math.floor(Math.random() * opts.keys));
      const list = opts.urls();
      const url = list[Math.floor(Math.random() * list.length)] ?? '';
      const startedAt = performance.now();
      const replicated = Math.random() < 0.5;
      try {
        const query = replicated ? '?consistency=replicated' : '';
        const r = await fetch(`${url}/v1/keys/${encodeURIComponent(key)}${query}`, {
          signal: AbortSignal.timeout(2000),
        });
        counts.reads++;
        if (replicated) counts.replicatedReads++;
        if (r.status !== 200) {
          if (r.status === 503 && replicated) {
            const { code } = (await r.json()) as { code?: string };
            if (code === 'READ_NOT_REPLICATED') counts.readsNotReplicated++;
          } else await r.body?.cancel();
          return;
        }
        const { version } = (await r.json()) as { version: number };
        saw(key, version);
        // As durable as a reported-applied write: replicas have it (MIN_REPLICA_ACKS).
        if (replicated) addFloor(key, version);
        const applied = floorBefore(key, startedAt);
        if (version < applied) {
          counts.staleReads++;
          violations.push(
            `stale read of ${key}: version ${String(applied)} was reported applied (or read replicated) before this read started, which saw ${String(version)}`,
          );
        }
        const floor = readOrder.record(key, startedAt, performance.now(), version);
        if (floor !== null) {
          counts.regressions++;
          if (!opts.readsMayRegress) {
            violations.push(
              `regression on ${key}: a read completed with ${String(floor)} before this one started, which saw ${String(version)}`,
            );
          }
        }
      } catch {
        await sleep(20);
      }
    },
  };
}
