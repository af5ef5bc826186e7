import { createHash } from 'node:crypto';

import {
  AppError,
  type Condition,
  type ErrorCode,
  type JobPayload,
  type OpType,
} from '../core/index.ts';
import {
  type AcceptInput,
  type AcceptResult,
  isTerminal,
  type KeyState,
  type StoredReceipt,
} from '../store/index.ts';
import type { ApiDeps } from './deps.ts';
import { parseIdempotencyKey, preferWaitSeconds } from './http-headers.ts';
import { type ResponseParts, writeResponse } from './render.ts';

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
function isConditional(input: WriteInput): boolean {
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
type Accepted = AcceptResult & { opId?: string; decidedAt?: number };

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
async function acceptConditional(
  deps: ApiDeps,
  accept: AcceptInput,
  input: WriteInput,
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
          payloadOf(input, opId),
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
function refusalOf(problem: string): AppError {
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
async function refusalReplicated(deps: ApiDeps, key: string, idempotencyKey: string) {
  if (!(await replicated(deps, key, idempotencyKey))) {
    throw new AppError(
      'WRITE_NOT_REPLICATED',
      'the write was refused (its condition failed), but the queue Redis replicas have not confirmed the refusal, so an earlier attempt of this request could still be accepted: retry with the same Idempotency-Key',
      { headers: { 'retry-after': '1' } },
    );
  }
}

function fingerprint(input: WriteInput): string {
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

/** The job's data; version and acceptance time are added when known (see acceptAndEnqueue). */
function payloadOf(input: WriteInput, opId: string): JobPayload {
  const payload: JobPayload = { opId, key: input.key, type: input.type };
  if (input.valueJson !== undefined) payload.value = input.valueJson;
  if (input.ttlMs !== undefined) payload.ttlMs = input.ttlMs;
  if (input.condition) payload.condition = input.condition;
  if (input.conditionCode) payload.conditionCode = input.conditionCode;
  return payload;
}

function queuedReceipt(
  input: WriteInput,
  opId: string,
  version: number,
  acceptedAt: number,
): StoredReceipt {
  return {
    id: opId,
    key: input.key,
    type: input.type,
    version,
    status: 'queued',
    attempts: 0,
    acceptedAt: new Date(acceptedAt).toISOString(),
    created: false,
    createdAtMs: null,
    expiresAtMs: null,
    acceptedAtMs: acceptedAt,
    appliedAtMs: null,
    decidedAtMs: null,
    deadline: 0,
    jobId: opId,
  };
}

/** The request headers a write reads, and its request id (however the transport got them). */
export interface WriteRequest {
  idempotencyKey: string | undefined;
  prefer: string | undefined;
  requestId: string;
}

export async function submitWrite(
  deps: ApiDeps,
  req: WriteRequest,
  input: WriteInput,
): Promise<ResponseParts> {
  if (deps.isShuttingDown()) {
    throw new AppError('SHUTTING_DOWN', 'this instance is shutting down; retry', {
      headers: { 'retry-after': '1' },
    });
  }
  // POST /v1/keys: a put that requires the key to be absent, recorded as a create.
  if (input.conditionCode === 'KEY_EXISTS' && input.type === 'put') {
    input = { ...input, type: 'create' };
  }
  const idempotencyKey = parseIdempotencyKey(req.idempotencyKey);
  const waitS = preferWaitSeconds(req.prefer);
  const fp = idempotencyKey ? fingerprint(input) : undefined;

  await deps.admission.check(input.valueJson === undefined ? 0 : input.valueJson.length);
  const opId = deps.ledger.newOpId(input.key);
  const accept: AcceptInput = {
    opId,
    key: input.key,
    type: input.type,
    fingerprint: fp,
    idempotencyKey,
    replay: input.replay,
  };
  // Acceptance and the job leave in one socket write (the job carries no version: the worker
  // takes it from the receipt), answered from what acceptance returned.
  const accepted: Accepted = isConditional(input)
    ? await acceptConditional(deps, accept, input)
    : await deps.acceptAndEnqueue(accept, payloadOf(input, opId));
  if (accepted.kind === 'reused') {
    throw new AppError(
      'IDEMPOTENCY_KEY_REUSED',
      `Idempotency-Key was first used for op ${accepted.opId} with a different request`,
    );
  }
  if (accepted.kind === 'refused') {
    // An earlier attempt of this request was refused: every attempt gets that answer.
    await refusalReplicated(deps, input.key, idempotencyKey ?? '');
    throw refusalOf(accepted.problem);
  }
  if (accepted.kind === 'newer') {
    throw new AppError(
      'NOT_REPLAYABLE',
      `key ${input.key} has accepted a write after the dead op (it is at version ${String(accepted.lastVersion)}); replay with force=true to write the old value over it`,
    );
  }
  if (accepted.kind === 'moved') throw new Error('acceptConditional returned a stale decision');
  if (accepted.kind === 'dup') {
    const id = accepted.opId;
    // The original request may have died between accepting and enqueueing: make sure the job
    // exists (adding an existing job id is a no-op in BullMQ).
    const r = await deps.ledger.idempotentReceipt(idempotencyKey ?? '', id);
    if (!r) throw new AppError('OP_NOT_FOUND', `op ${id} is no longer known`);
    // A repeat is answered 2xx only once replicas have what it answers from (its acceptance, its
    // outcome), whichever path found the original: acceptance, or a conditional write's inspect.
    if (!(await replicated(deps, r.key, idempotencyKey))) {
      throw new AppError(
        'WRITE_NOT_REPLICATED',
        `op ${id} is on the queue Redis primary, but its replicas have not confirmed it: retry with the same Idempotency-Key`,
        { headers: { 'retry-after': '1' }, extensions: { opId: id } },
      );
    }
    if (r.status === 'queued') {
      await deps.enqueue(
        { ...payloadOf(input, id), version: r.version, acceptedAt: r.acceptedAtMs },
        r.jobId,
      );
    }
    // A finished op's receipt may be gone (trimmed by count): answer from the copy kept with the
    // Idempotency-Key, without waiting.
    if (waitS === undefined || isTerminal(r.status)) {
      return writeResponse(r, {
        valueJson: input.valueJson,
        waited: waitS,
        requestId: req.requestId,
      });
    }
    return waitAndAnswer(deps, req, input, waitS, r);
  }
  const receipt = queuedReceipt(
    input,
    accepted.opId ?? opId,
    accepted.version,
    accepted.acceptedAt,
  );
  if (accepted.decidedAt !== undefined) {
    receipt.decidedAtMs = accepted.decidedAt;
    receipt.decidedAt = new Date(accepted.decidedAt).toISOString();
  }
  if (waitS === undefined) return writeResponse(receipt, { requestId: req.requestId });
  return waitAndAnswer(deps, req, input, waitS, receipt);
}

/**
 * `Prefer: wait`, or a repeated Idempotency-Key: the receipt as it stands (after the wait).
 * `accepted` is the receipt the write was accepted with: when the wait cannot be answered (the
 * queue Redis failed or stalled; the waiter gives up within its wait plus WAIT_GRACE_MS), the
 * answer is that plain 202 + Location, never a 503, because the write stands and a retry after a
 * 503 would be a second write.
 */
async function waitAndAnswer(
  deps: ApiDeps,
  req: WriteRequest,
  input: WriteInput,
  waitS: number | undefined,
  accepted: StoredReceipt,
): Promise<ResponseParts> {
  const id = accepted.id;
  let receipt: StoredReceipt | null;
  try {
    receipt = await deps.waiter.wait(id, waitS === undefined ? 0 : waitS * 1000);
  } catch (err) {
    deps.logger.warn(
      { err, opId: id, requestId: req.requestId },
      'Prefer: wait could not be answered; answering the accepted receipt',
    );
    return writeResponse(accepted, { requestId: req.requestId });
  }
  if (!receipt) throw new AppError('OP_NOT_FOUND', `op ${id} is no longer known`);
  // With replica acks, an outcome is reported only once replicas have it: a receipt read from a
  // primary that is about to lose a failover could still turn back to pending. Until then the
  // write is answered as accepted.
  if (isTerminal(receipt.status) && !(await replicated(deps, receipt.key))) {
    return writeResponse(accepted, { requestId: req.requestId });
  }
  return writeResponse(receipt, {
    valueJson: input.valueJson,
    waited: waitS,
    requestId: req.requestId,
  });
}

/** Whether replicas have everything the key's queue partition holds (true when acks are off). */
function replicated(deps: ApiDeps, key: string, idempotencyKey?: string): Promise<boolean> {
  return deps.ledger.replicated(key, idempotencyKey).catch(() => false);
}

function ttlMs(ttlSeconds: number | undefined): number | undefined {
  return ttlSeconds === undefined ? undefined : ttlSeconds * 1000;
}

function checkValueSize(valueJson: string, max: number): void {
  const bytes = Buffer.byteLength(valueJson, 'utf8');
  if (bytes > max) {
    throw new AppError(
      'VALUE_TOO_LARGE',
      `the value is ${String(bytes)} bytes as JSON; the limit is ${String(max)}`,
    );
  }
}

/**
 * A put from a validated body: the value's JSON text as the client wrote it (readJsonBody; never
 * re-serialised, which would change numbers such as 1e400 or -0), its size checked, then submitted.
 */
export function submitPut(
  deps: ApiDeps,
  req: WriteRequest,
  key: string,
  body: { valueJson: string | undefined; ttlSeconds?: number | undefined },
  condition: Condition | undefined,
  conditionCode?: 'KEY_EXISTS',
): Promise<ResponseParts> {
  const { valueJson } = body;
  // The zod schema has required `value`; this only narrows the type.
  if (valueJson === undefined) throw new AppError('VALIDATION_FAILED', 'value: required');
  checkValueSize(valueJson, deps.limits.maxValueBytes);
  return submitWrite(deps, req, {
    key,
    type: 'put',
    valueJson,
    ttlMs: ttlMs(body.ttlSeconds),
    condition,
    conditionCode,
  });
}
