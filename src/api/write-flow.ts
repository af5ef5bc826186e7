import { AppError, type Condition } from '../core/index.ts';
import { type AcceptInput, isTerminal, type StoredReceipt } from '../store/index.ts';
import {
  acceptConditional,
  type Accepted,
  fingerprint,
  isConditional,
  payloadOf,
  refusalOf,
  refusalReplicated,
  replicated,
  type WriteInput,
} from './conditional-accept.ts';
import type { ApiDeps } from './deps.ts';
import { parseIdempotencyKey, preferWaitSeconds } from './http-headers.ts';
import { type ResponseParts, writeResponse } from './render.ts';

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
    ? await acceptConditional(deps, accept, input, req.requestId)
    : await deps.acceptAndEnqueue(accept, payloadOf(input, opId, req.requestId));
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
        { ...payloadOf(input, id, req.requestId), version: r.version, acceptedAt: r.acceptedAtMs },
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
