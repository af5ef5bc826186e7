import { AsyncLocalStorage } from 'node:async_hooks';

import { isSpanContextValid, trace } from '@opentelemetry/api';

/**
 * What every log line written during one piece of work carries without each call site passing
 * it: the request id of the op a worker is applying (it travels in the job), and, when tracing
 * is on, the trace and span ids of the span active there. The logger's mixin (logger.ts) adds
 * them to each line.
 */
export interface LogFields {
  requestId?: string | undefined;
}

const store = new AsyncLocalStorage<LogFields>();
/** What logContextFields returns when there is nothing to add (never a fresh object). */
export const NO_LOG_FIELDS: Readonly<Record<string, unknown>> = Object.freeze({});
const NONE = NO_LOG_FIELDS;

/** Runs `fn` with `fields` on every log line written inside it (awaits included). */
export function withLogFields<T>(fields: LogFields, fn: () => T): T {
  return store.run(fields, fn);
}

/**
 * The fields for a line written now: those of withLogFields, and `traceId` / `spanId` of the
 * active span. Without tracing no span is ever active (the OpenTelemetry API's no-op context),
 * so this is one lookup. A fresh object unless it is NO_LOG_FIELDS.
 */
export function logContextFields(): Readonly<Record<string, unknown>> {
  const fields = store.getStore();
  const span = trace.getActiveSpan();
  if (span === undefined) {
    return fields?.requestId === undefined ? NONE : { requestId: fields.requestId };
  }
  const sc = span.spanContext();
  if (!isSpanContextValid(sc)) return fields?.requestId === undefined ? NONE : { ...fields };
  return { ...fields, traceId: sc.traceId, spanId: sc.spanId };
}

/** The active span's trace id; undefined outside a traced request or job. */
export function activeTraceId(): string | undefined {
  const sc = trace.getActiveSpan()?.spanContext();
  return sc && isSpanContextValid(sc) ? sc.traceId : undefined;
}
