import type { Cluster, Redis } from 'ioredis';

import { type JobPayload, type KeyLayout, type OpStatus, type OpType } from '../core/index.ts';
import { guard } from './guard.ts';
import { defineScript } from './lua.ts';
import { positive, type StoredReceipt, toReceipt } from './receipts.ts';
import { createReplicaAcks } from './replica-acks.ts';

/**
 * The queue Redis side of an op: per-key version counters, pending counts, receipts and
 * Idempotency-Keys. Lives beside BullMQ's own keys so that a write can be accepted while the
 * data Redis is down.
 */

/**
 * An earlier attempt of the same request (same Idempotency-Key and fingerprint) was a conditional
 * write refused without an op: `problem` is the refusal as it was answered (see refuse.lua).
 */
export type Refused = { kind: 'refused'; problem: string };

export type AcceptResult =
  | { kind: 'new'; version: number; acceptedAt: number }
  | { kind: 'dup'; opId: string }
  | { kind: 'reused'; opId: string }
  | Refused
  /** A conditional write's decision is stale: a write was accepted or is pending since. */
  | { kind: 'moved'; lastVersion: number; pending: number }
  /** A replay of an op whose key has accepted a later write. */
  | { kind: 'newer'; lastVersion: number };

/** The queue side of a key, as a conditional write sees it before deciding. */
export type Inspection =
  | { kind: 'dup'; opId: string }
  | { kind: 'reused'; opId: string }
  | Refused
  | { kind: 'state'; lastVersion: number; pending: number };

/** What refusing a conditional write came to (see Ledger.refuse). */
export type Refusal = Inspection | { kind: 'refused-now' };

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
  /**
   * A conditional write: the key's last issued version when it was decided, with nothing
   * pending. Acceptance is refused (`moved`) unless both still hold.
   */
  decidedAfter?: { lastVersion: number; at: number } | undefined;
  /** A dead-letter replay: the original op, and the version the key may not have moved past. */
  replay?: { of: string; maxVersion: number | undefined } | undefined;
}

/** What a worker learns when it starts an op: the receipt's status before, and the op's version. */
export type StartResult =
  | { status: OpStatus | 'sealed'; version: number; acceptedAt: number; deadline: number }
  /** The job names another key than its op was accepted for: it is not applied. */
  | { status: 'missing' | 'mismatch' };

/** An op closed to new applies (see seal.lua), with what deciding its outcome needs. */
export type SealResult =
  | {
      status: OpStatus;
      key: string;
      version: number;
      acceptedAt: number;
      deadline: number;
      attempts: number;
    }
  | { status: 'missing' };

export interface Ledger {
  /** A new op id for a write to `key`; it names the key's partition. */
  newOpId(key: string): string;
  /**
   * Before `accept`: an Idempotency-Key's first use is marked in its own partition, where a reuse
   * of it with another request is found (`reused`). Separate from `accept` so that acceptance
   * itself is one command, sent ahead of its job.
   */
  checkIdempotencyHome(input: AcceptInput): Promise<{ kind: 'reused'; opId: string } | undefined>;
  /** Drops the mark checkIdempotencyHome left for this op, when its acceptance did not stand. */
  releaseIdempotencyHome(input: AcceptInput): Promise<void>;
  accept(input: AcceptInput): Promise<AcceptResult>;
  unaccept(input: {
    opId: string;
    key: string;
    idempotencyKey?: string | undefined;
  }): Promise<void>;
  /** Before deciding a conditional write: a repeat, or the key's last version and pending count. */
  inspect(
    key: string,
    idempotencyKey: string | undefined,
    fingerprint: string,
  ): Promise<Inspection>;
  /**
   * Refuses a conditional write whose condition failed against the state after `lastVersion`:
   * `refused-now` when that decision still stands (the key's last version is unchanged and
   * nothing is pending), `state` when it does not (decide again), or an earlier answer under the
   * Idempotency-Key. With an Idempotency-Key the refusal (`problem`, a problem document's JSON) is
   * kept under it for the receipt retention, so that no other attempt of the same request can be
   * accepted after this one was refused.
   */
  refuse(input: {
    key: string;
    idempotencyKey: string | undefined;
    fingerprint: string;
    lastVersion: number;
    problem: string;
  }): Promise<Refusal>;
  receipt(opId: string): Promise<StoredReceipt | null>;
  /**
   * The receipt an Idempotency-Key answers with: the op's receipt, or the copy kept with the key
   * once the op finished (it outlives the receipt's trimming by count).
   */
  idempotentReceipt(idempotencyKey: string, opId: string): Promise<StoredReceipt | null>;
  /**
   * Marks the op active and records `deadline` (data Redis ms) as the latest by which an apply
   * sent for it runs; returns the receipt's previous status and the op's version.
   */
  start(opId: string, key: string, attempt: number, deadline: number): Promise<StartResult>;
  /** Closes an unfinished op to new applies, so that its outcome can be decided for good. */
  seal(opId: string): Promise<SealResult>;
  /** Records a terminal status once and notifies waiters; returns the status that stands. */
  finish(input: FinishInput): Promise<OpStatus>;
  /**
   * Accepted ops still not finished that were accepted more than `ageMs` ago (oldest first in
   * each partition), up to `limit` per partition.
   */
  openOlderThan(ageMs: number, limit: number): Promise<string[]>;
  /** Accepted ops not finished, summed over the partitions: the backlog. */
  unfinished(): Promise<number>;
  /**
   * Raises the key's version counter to at least `version`: after a failover of the queue Redis
   * issued a version again, the next write must get one above what the data Redis holds.
   */
  raiseVersion(key: string, version: number): Promise<void>;
  /**
   * Whether MIN_REPLICA_ACKS replicas have every write the key's partition node had made by now
   * (true at once when no acks are asked for); with an Idempotency-Key, its home partition's node
   * too (where its first use is marked).
   */
  replicated(key: string, idempotencyKey?: string): Promise<boolean>;
  /** Drops an op id from the open list (its receipt is gone or terminal). */
  forgetOpen(opId: string): Promise<void>;
  /** A best-effort lock so that one process at a time reconciles; true when taken. */
  tryLock(name: 'reconcile', ttlMs: number, owner: string): Promise<boolean>;
  /** Channel on which `finish` announces an op. */
  doneChannel(opId: string): string;
  ping(): Promise<void>;
}

export function createLedger(deps: {
  redis: Redis | Cluster;
  layout: KeyLayout;
  retentionMs: number;
  /** Over all partitions: each keeps at most ceil(retentionCount / partitions) receipts. */
  retentionCount: number;
  minReplicaAcks?: number;
  replicaAckTimeoutMs?: number;
}): Ledger {
  const { redis, layout } = deps;
  const acks = createReplicaAcks(redis, deps.minReplicaAcks ?? 0, deps.replicaAckTimeoutMs ?? 1000);
  const perPartitionCount = Math.ceil(deps.retentionCount / layout.count);
  const partitions = Array.from({ length: layout.count }, (_, i) => i);
  /** The keys of the user key's partition. */
  const byKey = (key: string) => layout.queue(layout.of(key));
  /**
   * The keys of the op's partition. An id that names no partition of this layout cannot belong
   * to any op: it is looked up in partition 0, where nothing is stored under it.
   */
  const byOp = (opId: string) => layout.queue(layout.ofOp(opId) ?? 0);
  const acceptScript = defineScript<(string | number)[]>(redis, 'accept', 4);
  const inspectScript = defineScript<(string | number)[]>(redis, 'inspect', 2);
  const refuseScript = defineScript<(string | number)[]>(redis, 'refuse', 2);
  const unacceptScript = defineScript<number>(redis, 'unaccept', 4);
  const startScript = defineScript<string[]>(redis, 'start', 1);
  const sealScript = defineScript<(string | number)[]>(redis, 'seal', 1);
  const finishScript = defineScript<string>(redis, 'finish', 6);
  const raiseScript = defineScript<number>(redis, 'raise', 1);
  const ikeyScript = defineScript<string[]>(redis, 'ikey', 2);
  const channel = (opId: string) => `${byOp(opId).doneChannel}:${opId}`;
  /** Idempotency markers outlive the records they guard (terminal + retention) by a day. */
  const homeTtlMs = deps.retentionMs + 86_400_000;

  /**
   * An Idempotency-Key's record lives in the partition of the user key it was used with, so that
   * acceptance stays one script. Its first use is also marked in the Idempotency-Key's own
   * partition (ikey.lua), which is where a reuse with a key of any partition meets it: a
   * different fingerprint is a reuse. Returns the reuse, or undefined to go on.
   */
  async function homeCheck(
    ik: string | undefined,
    fingerprint: string | undefined,
    opId: string,
    mode: 'mark' | 'check' | 'undo',
  ): Promise<{ kind: 'reused'; opId: string } | undefined> {
    if (!ik) return undefined;
    const home = layout.queue(layout.of(ik));
    const r = await guard(
      ikeyScript(
        [home.idempotencyHome(ik), home.idempotency(ik)],
        [fingerprint ?? '', opId, homeTtlMs, mode],
      ),
      'QUEUE_UNAVAILABLE',
    );
    return r[0] === 'reused' ? { kind: 'reused', opId: r[1] ?? '' } : undefined;
  }

  return {
    newOpId: (key) => layout.newOpId(key),

    checkIdempotencyHome: ({ opId, idempotencyKey, fingerprint }) =>
      homeCheck(idempotencyKey, fingerprint, opId, 'mark'),

    async releaseIdempotencyHome({ opId, idempotencyKey }) {
      await homeCheck(idempotencyKey, '', opId, 'undo');
    },

    accept({ opId, key, type, fingerprint, idempotencyKey, decidedAfter, replay }) {
      // No await before the script is sent: acceptAndEnqueue relies on this command leaving
      // ahead of the job it sends right after (see queue/accept-enqueue.ts).
      if (layout.ofOp(opId) !== layout.of(key)) {
        return Promise.reject(
          new Error(`op id ${opId} does not name the partition of its key (see newOpId)`),
        );
      }
      const k = byKey(key);
      const sent = guard(
        acceptScript(
          [k.version(key), k.op(opId), k.idempotency(idempotencyKey ?? ''), k.open],
          [
            opId,
            key,
            type,
            idempotencyKey ? (fingerprint ?? '') : '',
            decidedAfter ? decidedAfter.lastVersion : '',
            decidedAfter ? decidedAfter.at : '',
            replay?.of ?? '',
            replay?.maxVersion ?? '',
          ],
        ),
        'QUEUE_UNAVAILABLE',
      );
      return sent.then((r): AcceptResult => {
        const kind = String(r[0]);
        switch (kind) {
          case 'new':
            return { kind, version: positive(r[1]), acceptedAt: Number(r[2]) };
          case 'moved':
            return { kind, lastVersion: Number(r[1]), pending: Number(r[2]) };
          case 'newer':
            return { kind, lastVersion: Number(r[1]) };
          case 'refused':
            return { kind, problem: String(r[1]) };
          default:
            return { kind: kind === 'dup' ? 'dup' : 'reused', opId: String(r[1]) };
        }
      });
    },

    async inspect(key, idempotencyKey, fingerprint) {
      // Check only: a condition decided now may still fail, and a failed one creates nothing.
      const reuse = await homeCheck(idempotencyKey, fingerprint, '', 'check');
      if (reuse) return reuse;
      const k = byKey(key);
      const r = await guard(
        inspectScript(
          [k.version(key), k.idempotency(idempotencyKey ?? '')],
          [idempotencyKey ? fingerprint : ''],
        ),
        'QUEUE_UNAVAILABLE',
      );
      return inspection(r);
    },

    async refuse({ key, idempotencyKey, fingerprint, lastVersion, problem }) {
      const k = byKey(key);
      const r = await guard(
        refuseScript(
          [k.version(key), k.idempotency(idempotencyKey ?? '')],
          [idempotencyKey ? fingerprint : '', lastVersion, problem, deps.retentionMs],
        ),
        'QUEUE_UNAVAILABLE',
      );
      if (r.length === 1 && String(r[0]) === 'refused') return { kind: 'refused-now' };
      return inspection(r);
    },

    async unaccept({ opId, key, idempotencyKey }) {
      const k = byKey(key);
      await guard(
        unacceptScript(
          [k.version(key), k.op(opId), k.idempotency(idempotencyKey ?? ''), k.open],
          [opId],
        ),
        'QUEUE_UNAVAILABLE',
      );
    },

    async receipt(opId) {
      if (layout.ofOp(opId) === undefined) return null;
      const h = await guard(redis.hgetall(byOp(opId).op(opId)), 'QUEUE_UNAVAILABLE');
      return toReceipt(h);
    },

    async idempotentReceipt(idempotencyKey, opId) {
      if (layout.ofOp(opId) === undefined) return null;
      // The op id names its key's partition, which holds the Idempotency-Key's record too.
      const k = byOp(opId);
      const own = await guard(redis.hgetall(k.op(opId)), 'QUEUE_UNAVAILABLE');
      if (own.id) return toReceipt(own);
      const copy = await guard(redis.hgetall(k.idempotency(idempotencyKey)), 'QUEUE_UNAVAILABLE');
      return copy.id === opId ? toReceipt(copy) : null;
    },

    async start(opId, key, attempt, deadline) {
      if (layout.ofOp(opId) === undefined) return { status: 'missing' };
      const r = await guard(
        startScript([byOp(opId).op(opId)], [attempt, deadline, key]),
        'QUEUE_UNAVAILABLE',
      );
      if (r[0] === 'missing' || r[0] === 'mismatch') return { status: r[0] };
      return {
        status: r[0] as OpStatus | 'sealed',
        version: positive(r[1]),
        acceptedAt: Number(r[2]),
        deadline: Number(r[3]),
      };
    },

    async seal(opId) {
      if (layout.ofOp(opId) === undefined) return { status: 'missing' };
      const r = await guard(sealScript([byOp(opId).op(opId)], []), 'QUEUE_UNAVAILABLE');
      if (r[0] === 'missing') return { status: 'missing' };
      return {
        status: r[0] as OpStatus,
        version: positive(r[1]),
        acceptedAt: Number(r[2]),
        deadline: Number(r[3]),
        attempts: Number(r[4]),
        key: String(r[5]),
      };
    },

    async finish(f) {
      // Everything in the op's partition (its key's, for every op this ledger accepted).
      const k = byOp(f.opId);
      const st = await guard(
        finishScript(
          [k.op(f.opId), k.version(f.key), k.finished, k.open, k.deadLetter(f.opId), k.deadLetters],
          [
            f.opId,
            f.status,
            f.error?.code ?? '',
            f.error?.message ?? '',
            deps.retentionMs,
            perPartitionCount,
            k.op(''),
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
      // Acceptance times come from the partition's own Redis clock (accept.lua): judge each
      // partition by the clock of the node that holds it.
      const lists = await Promise.all(
        partitions.map((i) => {
          const open = layout.queue(i).open;
          return guard(redis.eval(OPEN_OLDER_THAN, 1, open, ageMs, limit), 'QUEUE_UNAVAILABLE');
        }),
      );
      return lists.flatMap((l) => (Array.isArray(l) ? l.map(String) : []));
    },

    async unfinished() {
      const counts = await Promise.all(
        partitions.map((i) => guard(redis.zcard(layout.queue(i).open), 'QUEUE_UNAVAILABLE')),
      );
      return counts.reduce((a, b) => a + b, 0);
    },

    async raiseVersion(key, version) {
      await guard(raiseScript([byKey(key).version(key)], [version]), 'QUEUE_UNAVAILABLE');
    },

    async replicated(key, idempotencyKey) {
      const nodes = [acks(byKey(key).acks)];
      if (idempotencyKey && layout.of(idempotencyKey) !== layout.of(key)) {
        nodes.push(acks(layout.queue(layout.of(idempotencyKey)).acks));
      }
      const ok = await guard(Promise.all(nodes), 'QUEUE_UNAVAILABLE');
      return ok.every(Boolean);
    },

    async forgetOpen(opId) {
      await guard(redis.zrem(byOp(opId).open, opId), 'QUEUE_UNAVAILABLE');
    },

    async tryLock(_name, ttlMs, owner) {
      const lock = layout.global.reconcileLock;
      const r = await guard(redis.set(lock, owner, 'PX', ttlMs, 'NX'), 'QUEUE_UNAVAILABLE');
      if (r === 'OK') return true;
      // Re-entrant for the holder, so it keeps the lock while it runs every interval.
      if ((await guard(redis.get(lock), 'QUEUE_UNAVAILABLE')) === owner) {
        await guard(redis.pexpire(lock, ttlMs), 'QUEUE_UNAVAILABLE');
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

/** A reply of inspect.lua or refuse.lua: an earlier answer, or the key's queue side. */
function inspection(r: (string | number)[]): Inspection {
  const kind = String(r[0]);
  if (kind === 'state') return { kind, lastVersion: Number(r[1]), pending: Number(r[2]) };
  if (kind === 'refused') return { kind, problem: String(r[1]) };
  return { kind: kind === 'dup' ? 'dup' : 'reused', opId: String(r[1]) };
}

/** Open op ids accepted more than ARGV[1] ms ago by this node's clock, at most ARGV[2]. */
const OPEN_OLDER_THAN = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[1]), 'LIMIT', 0, tonumber(ARGV[2]))`;
