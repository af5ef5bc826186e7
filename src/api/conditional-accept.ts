import { createHash } from 'node:crypto';

import {
  AppError,
  type Condition,
  type ErrorCode,
  type JobPayload,
  type OpType,
} from '../core/index.ts';
import type { AcceptInput, AcceptResult, KeyState } from '../store/index.ts';
import type { ApiDeps } from './deps.ts';

/*
 * Conditional acceptance: a write decided against the key's state (create, delete, any
 * condition), in its place in the key's version order, and the refusals kept under an
 * Idempotency-Key. write-flow.ts is the one write path that calls it.
 */

export interface WriteInput {
  key: string;
  type: OpType;
  valueJson?: string | undefined;
  ttlMs?: number | undefined;
  condition?: Condition | undefined;
  /** What a failed condition is reported as: KEY_EXISTS for POST /v1/keys. */
  conditionCode?: 'PRECONDITION_FAILED' | 'KEY_EXISTS' | undefined;
  /** A dead-letter replay (see AcceptInput.replay). */
  replay?: AcceptInput['replay'];
}

/** A write that is decided against the key's state: every create and delete, any condition. */
export function isConditional(input: WriteInput): boolean {
  return input.condition !== undefined || input.type !== 'put';
}

/**
 * Why `input` fails against `state` (the key with nothing pending, at `state.now`), or undefined
 * when it goes ahead. The problem document says what it was decided against, so that a client
 * (or a checker) can place the answer in the key's version order.
 */
function conditionFailure(
  input: WriteInput,
  state: KeyState,
  lastVersion: number,
): AppError | undefined {
  const live = state.liveVersion;
  const at = live === null ? 'does not exist' : `is at version ${String(live)}`;
  const extensions = {
    currentVersion: live,
    decidedAfterVersion: lastVersion,
    decidedAt: new Date(state.now).toISOString(),
  };
  const c = input.condition;
  if (input.type === 'create' && live !== null) {
    return new AppError('KEY_EXISTS', `key exists (at version ${String(live)})`, { extensions });
  }
  if (c?.kind === 'absent' && live !== null && input.type !== 'create') {
    return new AppError('PRECONDITION_FAILED', `If-None-Match: * failed: key ${at}`, {
      extensions,
    });
  }
  if (input.type === 'delete' && live === null) {
    return new AppError('KEY_NOT_FOUND', 'key does not exist', { extensions });
  }
  if (c?.kind === 'exists' && live === null) {
    return new AppError('PRECONDITION_FAILED', 'If-Match: * failed: key does not exist', {
      extensions,
    });
  }
  if (c?.kind === 'version' && live !== c.version) {
    return new AppError(
      'PRECONDITION_FAILED',
      `If-Match: "${String(c.version)}" failed: key ${at}`,
      {
        extensions,
      },
    );
  }
  return undefined;
}

/** What acceptance answered; a new op with the id it was accepted under (and its decision time). */
/**
 * The job's data; version and acceptance time are added when known (see acceptAndEnqueue), the
 * trace context by the traced producer (queue/trace-producer.ts). `requestId`: the request that
 * submits it, for the worker's log lines.
 */
export function payloadOf(input: WriteInput, opId: string, requestId?: string): JobPayload {
  const payload: JobPayload = { opId, key: input.key, type: input.type };
  if (requestId !== undefined) payload.requestId = requestId;
  if (input.valueJson !== undefined) payload.value = input.valueJson;
  if (input.ttlMs !== undefined) payload.ttlMs = input.ttlMs;
  if (input.condition) payload.condition = input.condition;
  if (input.conditionCode) payload.conditionCode = input.conditionCode;
  return payload;
}

export type Accepted = AcceptResult & { opId?: string; decidedAt?: number };

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Accepts a conditional write in its place in the key's version order. The condition is decided
 * against the key only while none of its writes is pending: then the data Redis holds exactly the
 * state that every earlier version produced. The check is taken atomically across the two Redis:
 * the key's last version and pending count are read (queue Redis), then its state and clock (data
 * Redis), and acceptance re-checks on the queue Redis that the last version is unchanged and
 * nothing is pending; otherwise it starts over. Pending writes are waited for up to
 * KEY_BUSY_WAIT_MS, then the answer is 503 KEY_BUSY. A failed condition is answered at once and
 * creates no op.
 */
export async function acceptConditional(
  deps: ApiDeps,
  accept: AcceptInput,
  input: WriteInput,
  requestId?: string,
): Promise<Accepted> {
  const giveUpAt = Date.now() + deps.keyBusyWaitMs;
  let pause = 2;
  for (;;) {
    const seen = await deps.ledger.inspect(
      input.key,
      accept.idempotencyKey,
      accept.fingerprint ?? '',
    );
    if (seen.kind !== 'state') return seen;
    if (seen.pending === 0) {
      const state = await deps.records.peek(input.key);
      const failure = conditionFailure(input, state, seen.lastVersion);
      if (failure) {
        // A failure creates no op, so acceptance cannot re-check for it: refusing checks again
        // that no write was accepted since the state was inspected (then it was the state after
        // `lastVersion`), or it starts over. With an Idempotency-Key the refusal is kept under
        // it, so that an earlier attempt of this request still on its way (its client gave up
        // on it and retried) is refused too instead of being accepted after this answer.
        const r = await deps.ledger.refuse({
          key: input.key,
          idempotencyKey: accept.idempotencyKey,
          fingerprint: accept.fingerprint ?? '',
          lastVersion: seen.lastVersion,
          problem: refusalJson(failure),
        });
        if (r.kind === 'refused-now') {
          if (accept.idempotencyKey)
            await refusalReplicated(deps, input.key, accept.idempotencyKey);
          throw failure;
        }
        if (r.kind !== 'state') return r;
      } else {
        // A fresh op id per try: a refused try has already sent a job under its id (dropped by
        // a worker for want of a receipt), and a later try must not share that job's id.
        const opId = deps.ledger.newOpId(input.key);
        const r = await deps.acceptAndEnqueue(
          { ...accept, opId, decidedAfter: { lastVersion: seen.lastVersion, at: state.now } },
          payloadOf(input, opId, requestId),
        );
        if (r.kind === 'new') return { ...r, opId, decidedAt: state.now };
        if (r.kind !== 'moved') return r;
      }
    }
    if (Date.now() + pause > giveUpAt) {
      throw new AppError(
        'KEY_BUSY',
        `writes to this key are still pending after ${String(deps.keyBusyWaitMs)} ms; a conditional write, create or delete is decided once they have landed`,
        { headers: { 'retry-after': '1' } },
      );
    }
    await sleep(pause);
    pause = Math.min(pause * 2, 50);
  }
}

/** A refusal as kept under its Idempotency-Key (see refuse.lua). */
function refusalJson(e: AppError): string {
  return JSON.stringify({ code: e.code, detail: e.detail, extensions: e.extensions });
}

/** The refusal an earlier attempt of the same request was answered with. */
export function refusalOf(problem: string): AppError {
  const p = JSON.parse(problem) as {
    code: ErrorCode;
    detail: string;
    extensions: Record<string, unknown>;
  };
  return new AppError(p.code, p.detail, { extensions: p.extensions });
}

/**
 * With replica acks, a refusal kept under an Idempotency-Key is answered only once replicas have
 * it: a failover that lost it could let another attempt of the request be accepted after the
 * refusal was answered. A shortfall leaves the outcome open: 503 WRITE_NOT_REPLICATED.
 */
export async function refusalReplicated(deps: ApiDeps, key: string, idempotencyKey: string) {
  if (!(await replicated(deps, key, idempotencyKey))) {
    throw new AppError(
      'WRITE_NOT_REPLICATED',
      'the write was refused (its condition failed), but the queue Redis replicas have not confirmed the refusal, so an earlier attempt of this request could still be accepted: retry with the same Idempotency-Key',
      { headers: { 'retry-after': '1' } },
    );
  }
}

export function fingerprint(input: WriteInput): string {
  return createHash('sha256')
    .update(
      JSON.stringify([
        input.type,
        input.key,
        input.ttlMs ?? null,
        input.condition ?? null,
        input.conditionCode ?? null,
      ]),
    )
    .update('\n')
    .update(input.valueJson ?? '')
    .digest('base64url');
}

/** Whether replicas have everything the key's queue partition holds (true when acks are off). */
export function replicated(deps: ApiDeps, key: string, idempotencyKey?: string): Promise<boolean> {
  return deps.ledger.replicated(key, idempotencyKey).catch(() => false);
}
