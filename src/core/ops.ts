import { z } from 'zod';

/**
 * The contract between the API (producer) and the workers (consumer): the job payload, op
 * statuses, and every Redis key name. Nothing else is shared between `api` and `workers`.
 */

/** `create` is a put that requires the key to be absent (POST /v1/keys); it applies as a put. */
export const OP_TYPES = ['put', 'create', 'delete'] as const;
export type OpType = (typeof OP_TYPES)[number];

export const OP_STATUSES = ['queued', 'active', 'applied', 'superseded', 'failed', 'dead'] as const;
export type OpStatus = (typeof OP_STATUSES)[number];
export const TERMINAL_STATUSES: ReadonlySet<OpStatus> = new Set([
  'applied',
  'superseded',
  'failed',
  'dead',
]);

/**
 * Conditions are decided when the write is accepted, against the key's state with none of its
 * writes pending (see api/write-flow.ts): `absent` = If-None-Match: *, `exists` = If-Match: *,
 * `version` = If-Match: "N". Jobs carry the condition for the record (and dead-letter replays).
 */
export const conditionSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('absent') }),
  z.object({ kind: z.literal('exists') }),
  z.object({ kind: z.literal('version'), version: z.number().int().min(0) }),
]);
export type Condition = z.infer<typeof conditionSchema>;

/** What a precondition failure is called: POST create-only reports KEY_EXISTS. */
export const FAILURE_CODES = ['PRECONDITION_FAILED', 'KEY_EXISTS'] as const;

/** A W3C Trace Context carrier: the two headers' values, as the propagator reads and writes them. */
export const traceCarrierSchema = z.object({
  traceparent: z.string().max(128),
  tracestate: z.string().max(512).optional(),
});
export type TraceCarrier = z.infer<typeof traceCarrierSchema>;

export const jobPayloadSchema = z.object({
  opId: z.string().min(1),
  key: z.string().min(1),
  type: z.enum(OP_TYPES),
  /**
   * The op's version. Absent on jobs sent together with their acceptance (the version is not
   * known when the job is built): the worker then takes it from the receipt.
   */
  version: z.number().int().min(1).optional(),
  /** The value as JSON text (never re-parsed by the worker). */
  value: z.string().optional(),
  ttlMs: z.number().int().min(1).optional(),
  condition: conditionSchema.optional(),
  /** Error code to report when the condition fails. */
  conditionCode: z.enum(FAILURE_CODES).optional(),
  /** Absent together with `version`; taken from the receipt too. */
  acceptedAt: z.number().int().min(0).optional(),
  /**
   * The request that submitted the op, for the worker's log lines. Optional (older jobs have
   * none); one that is not a string is ignored rather than failing the op.
   */
  requestId: z.string().min(1).max(255).optional().catch(undefined),
  /**
   * The W3C trace context of the op's acceptance (`traceparent`, `tracestate`), so that the
   * worker's span joins the request's trace. Optional (tracing off, older jobs); a malformed one
   * is ignored rather than failing the op.
   */
  trace: traceCarrierSchema.optional().catch(undefined),
});
export type JobPayload = z.infer<typeof jobPayloadSchema>;

export const JOB_NAME = 'apply';

export interface OpError {
  code: string;
  message: string;
}

/** A write receipt: compact, never holds the value. */
export interface OpReceipt {
  id: string;
  key: string;
  type: OpType;
  version: number;
  status: OpStatus;
  attempts: number;
  acceptedAt: string;
  /** When a conditional write (or a delete, or a create) was decided: the data Redis clock. */
  decidedAt?: string;
  appliedAt?: string;
  /** When an applied put with a TTL expires. */
  expiresAt?: string;
  /** A dead-letter replay: the op it replays. */
  replayOf?: string;
  error?: OpError;
}
