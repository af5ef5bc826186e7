import { type Attributes, SpanKind } from '@opentelemetry/api';

import type { ApiDeps } from '../api/index.ts';
import {
  ATTR,
  type JobPayload,
  type KeyLayout,
  recordFailure,
  traceCarrierOf,
  type Tracer,
} from '../core/index.ts';

/*
 * The producer side of a write's trace. kvq adds its jobs in its own accept path (acceptance and
 * the job in one round trip, accept-enqueue.ts), not through BullMQ's Queue.add, so BullMQ's own
 * telemetry never sees them: the acceptance gets its span here, and the job carries that span's
 * W3C trace context in its payload (`trace`), which the worker continues (workers/job-context.ts).
 */

function producerAttributes(
  layout: KeyLayout,
  payload: JobPayload,
  jobId: string,
  requestId: string | undefined,
): Attributes {
  const attributes: Attributes = {
    [ATTR.MESSAGING_SYSTEM]: 'bullmq',
    [ATTR.MESSAGING_OPERATION_TYPE]: 'send',
    [ATTR.MESSAGING_DESTINATION]: layout.queueName(layout.of(payload.key)),
    [ATTR.MESSAGING_MESSAGE_ID]: jobId,
    [ATTR.OP_ID]: payload.opId,
    [ATTR.OP_TYPE]: payload.type,
  };
  if (requestId !== undefined) attributes[ATTR.REQUEST_ID] = requestId;
  return attributes;
}

/**
 * acceptAndEnqueue with a `kvq.accept` span around its round trip (a child of the request's
 * span), whose trace context goes into the job. A conditional write that starts over gets one
 * span per try.
 */
export function traceAcceptAndEnqueue(
  acceptAndEnqueue: ApiDeps['acceptAndEnqueue'],
  tracer: Tracer,
  layout: KeyLayout,
): ApiDeps['acceptAndEnqueue'] {
  return (accept, payload) =>
    tracer.startActiveSpan(
      'kvq.accept',
      {
        kind: SpanKind.PRODUCER,
        attributes: producerAttributes(layout, payload, accept.opId, payload.requestId),
      },
      async (span) => {
        try {
          const traced = withCarrier(payload);
          const r = await acceptAndEnqueue(accept, traced);
          span.setAttribute(ATTR.ACCEPT_RESULT, r.kind);
          return r;
        } catch (err) {
          recordFailure(span, err);
          throw err;
        } finally {
          span.end();
        }
      },
    );
}

/** enqueue (a repeated request making sure its op's job exists) with a `kvq.enqueue` span. */
export function traceEnqueue(
  enqueue: ApiDeps['enqueue'],
  tracer: Tracer,
  layout: KeyLayout,
): ApiDeps['enqueue'] {
  return (payload, jobId) =>
    tracer.startActiveSpan(
      'kvq.enqueue',
      {
        kind: SpanKind.PRODUCER,
        attributes: producerAttributes(layout, payload, jobId, payload.requestId),
      },
      async (span) => {
        try {
          await enqueue(withCarrier(payload), jobId);
        } catch (err) {
          recordFailure(span, err);
          throw err;
        } finally {
          span.end();
        }
      },
    );
}

/** The payload with the active span's trace context (the producer span just started). */
function withCarrier(payload: JobPayload): JobPayload {
  const carrier = traceCarrierOf();
  return carrier === undefined ? payload : { ...payload, trace: carrier };
}
