import { createHash, randomUUID } from 'node:crypto';

import { AppError, type Condition, type JobPayload, type OpType } from '../core/index.ts';
import type { KvRecord, StoredReceipt } from '../store/index.ts';
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
}

/** The reason a write would fail against `rec`, or undefined when it would go ahead. */
function earlyFailure(input: WriteInput, rec: KvRecord | null): AppError | undefined {
  const c = input.condition;
  if (c?.kind === 'absent' && rec) {
    return input.conditionCode === 'KEY_EXISTS'
      ? new AppError('KEY_EXISTS', `key exists (at version ${String(rec.version)})`)
      : new AppError(
          'PRECONDITION_FAILED',
          `If-None-Match: * failed: key is at version ${String(rec.version)}`,
        );
  }
  if (c?.kind === 'exists' && !rec) {
    return new AppError('PRECONDITION_FAILED', 'If-Match: * failed: key does not exist');
  }
  if (c?.kind === 'version' && rec?.version !== c.version) {
    const at = rec ? `is at version ${String(rec.version)}` : 'does not exist';
    return new AppError(
      'PRECONDITION_FAILED',
      `If-Match: "${String(c.version)}" failed: key ${at}`,
    );
  }
  if (!c && input.type === 'delete' && !rec) {
    return new AppError('KEY_NOT_FOUND', 'key does not exist');
  }
  return undefined;
}

function needsEarlyCheck(input: WriteInput): boolean {
  return input.condition !== undefined || input.type === 'delete';
}

/**
 * A failed condition is answered at once when nothing is pending for the key (the current state
 * is then what the worker would see). With writes pending, or the data Redis unreachable, the
 * worker decides.
 */
async function decideEarly(deps: ApiDeps, input: WriteInput): Promise<void> {
  if (!needsEarlyCheck(input)) return;
  const pending = await deps.ledger.pending(input.key);
  if (pending > 0) return;
  let rec: KvRecord | null;
  try {
    rec = await deps.records.get(input.key);
  } catch (err) {
    if (err instanceof AppError && err.code === 'DATA_UNAVAILABLE') return;
    throw err;
  }
  const failure = earlyFailure(input, rec);
  if (failure) throw failure;
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
      headers: { 'Retry-After': '1' },
    });
  }
  const idempotencyKey = parseIdempotencyKey(req.idempotencyKey);
  const waitS = preferWaitSeconds(req.prefer);
  const fp = idempotencyKey ? fingerprint(input) : undefined;

  if (deps.maxBacklog > 0) {
    const waiting = await deps.backlog();
    if (waiting > deps.maxBacklog) {
      throw new AppError(
        'BACKLOG_FULL',
        `${String(waiting)} writes are waiting (limit ${String(deps.maxBacklog)}); retry shortly`,
        { headers: { 'Retry-After': '2' } },
      );
    }
  }
  // A repeat of an accepted request answers with the original op, whatever the key's state now.
  if (!idempotencyKey) await decideEarly(deps, input);

  const opId = randomUUID();
  if (!idempotencyKey) {
    // The common path: acceptance and the job in one socket write, answered from what it returned.
    const { version, acceptedAt } = await deps.acceptAndEnqueue(
      { opId, key: input.key, type: input.type },
      payloadOf(input, opId),
    );
    if (waitS === undefined) {
      return writeResponse(queuedReceipt(input, opId, version, acceptedAt), {
        requestId: req.requestId,
      });
    }
    return waitAndAnswer(deps, req, input, opId, waitS);
  }
  const accepted = await deps.ledger.accept({
    opId,
    key: input.key,
    type: input.type,
    fingerprint: fp,
    idempotencyKey,
  });
  if (accepted.kind === 'reused') {
    throw new AppError(
      'IDEMPOTENCY_KEY_REUSED',
      `Idempotency-Key was first used for op ${accepted.opId} with a different request`,
    );
  }
  let id: string = opId;
  if (accepted.kind === 'dup') {
    id = accepted.opId;
    // The original request may have died between accepting and enqueueing: make sure the job
    // exists (adding an existing job id is a no-op in BullMQ).
    const r = await deps.ledger.receipt(id);
    if (r?.status === 'queued') {
      await deps.enqueue(
        { ...payloadOf(input, id), version: r.version, acceptedAt: r.acceptedAtMs },
        r.jobId,
      );
    }
  } else {
    const payload = {
      ...payloadOf(input, opId),
      version: accepted.version,
      acceptedAt: accepted.acceptedAt,
    };
    try {
      await deps.enqueue(payload, opId);
    } catch (err) {
      await deps.ledger.unaccept({ opId, key: input.key, idempotencyKey }).catch(() => undefined);
      throw err instanceof AppError
        ? err
        : new AppError('QUEUE_UNAVAILABLE', `could not enqueue: ${(err as Error).message}`, {
            cause: err,
            headers: { 'Retry-After': '1' },
          });
    }
    if (waitS === undefined) {
      // Answered from what acceptance returned, without reading the receipt back.
      return writeResponse(queuedReceipt(input, opId, accepted.version, accepted.acceptedAt), {
        requestId: req.requestId,
      });
    }
  }

  return waitAndAnswer(deps, req, input, id, waitS);
}

/** `Prefer: wait`, or a repeated Idempotency-Key: the receipt as it stands (after the wait). */
async function waitAndAnswer(
  deps: ApiDeps,
  req: WriteRequest,
  input: WriteInput,
  id: string,
  waitS: number | undefined,
): Promise<ResponseParts> {
  const receipt = await deps.waiter.wait(id, waitS === undefined ? 0 : waitS * 1000);
  if (!receipt) throw new AppError('OP_NOT_FOUND', `op ${id} is no longer known`);
  return writeResponse(receipt, {
    valueJson: input.valueJson,
    waited: waitS,
    requestId: req.requestId,
  });
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

/** A put from a validated body: the value serialised once, its size checked, then submitted. */
export function submitPut(
  deps: ApiDeps,
  req: WriteRequest,
  key: string,
  body: { value: unknown; ttlSeconds?: number | undefined },
  condition: Condition | undefined,
  conditionCode?: 'KEY_EXISTS',
): Promise<ResponseParts> {
  const valueJson = JSON.stringify(body.value);
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
