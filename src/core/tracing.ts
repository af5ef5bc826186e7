import {
  type Context,
  context,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanStatusCode,
  type Tracer,
} from '@opentelemetry/api';

import type { TraceCarrier } from './ops.ts';

/*
 * The tracing vocabulary the API, the queue producer and the workers share: the trace context as
 * it travels in a job, and the names of kvq's own span attributes. Only the OpenTelemetry API is
 * used here (a no-op without an SDK); bin/tracing.ts installs the SDK when tracing is configured,
 * and the tracer reaches each part as an optional dependency (undefined = no spans at all).
 */

export type { Tracer };

/** The instrumentation scope of every kvq span. */
export const TRACER_NAME = 'kvq';

/**
 * Span attributes: names from OpenTelemetry's semantic conventions (HTTP, error and database ones
 * stable; the messaging ones still incubating, which advise copying them), written out here so
 * that the request paths load no conventions module; then kvq's own.
 */
export const ATTR = {
  HTTP_REQUEST_METHOD: 'http.request.method',
  HTTP_RESPONSE_STATUS_CODE: 'http.response.status_code',
  HTTP_ROUTE: 'http.route',
  URL_PATH: 'url.path',
  URL_SCHEME: 'url.scheme',
  ERROR_TYPE: 'error.type',
  DB_SYSTEM_NAME: 'db.system.name',
  REQUEST_ID: 'kvq.request_id',
  OP_ID: 'kvq.op.id',
  OP_TYPE: 'kvq.op.type',
  OP_VERSION: 'kvq.op.version',
  /** What acceptance answered: new, dup, refused, reused, newer, moved. */
  ACCEPT_RESULT: 'kvq.accept.result',
  /** The receipt status a job attempt left: applied, superseded, failed, dead, queued, ... */
  OP_STATUS: 'kvq.op.status',
  /** What the fenced apply script answered: applied, already, superseded, expired, late, conflict. */
  APPLY_OUTCOME: 'kvq.apply.outcome',
  JOB_ATTEMPT: 'kvq.job.attempt',
  MESSAGING_SYSTEM: 'messaging.system',
  MESSAGING_OPERATION_TYPE: 'messaging.operation.type',
  MESSAGING_DESTINATION: 'messaging.destination.name',
  MESSAGING_MESSAGE_ID: 'messaging.message.id',
} as const;

/** The W3C trace context of `ctx` as a job carries it; undefined when no span is active there. */
export function traceCarrierOf(ctx: Context = context.active()): TraceCarrier | undefined {
  const carrier: { traceparent?: string; tracestate?: string } = {};
  propagation.inject(ctx, carrier);
  if (carrier.traceparent === undefined) return undefined;
  return carrier.tracestate === undefined
    ? { traceparent: carrier.traceparent }
    : { traceparent: carrier.traceparent, tracestate: carrier.tracestate };
}

/**
 * The context a remote trace context (a request's headers, a job's carrier) continues; the root
 * context when there is none or it is malformed (the propagator ignores what it cannot parse).
 */
export function contextOfCarrier(carrier: Partial<TraceCarrier> | undefined): Context {
  if (carrier?.traceparent === undefined) return ROOT_CONTEXT;
  return propagation.extract(ROOT_CONTEXT, carrier);
}

/** Marks a span failed by `err` (its exception recorded) without ending it. */
export function recordFailure(span: Span, err: unknown): void {
  if (err instanceof Error) span.recordException(err);
  const code = (err as { code?: unknown } | null)?.code;
  span.setAttribute(
    ATTR.ERROR_TYPE,
    typeof code === 'string' ? code : (err as Error).name || 'Error',
  );
  span.setStatus({
    code: SpanStatusCode.ERROR,
    message: err instanceof Error ? err.message : String(err),
  });
}
