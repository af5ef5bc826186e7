import { type Attributes, context, SpanKind, trace } from '@opentelemetry/api';

import {
  ATTR,
  contextOfCarrier,
  type Logger,
  recordFailure,
  traceCarrierSchema,
  type Tracer,
  withLogFields,
} from '../core/index.ts';
import type { RecordStore } from '../store/index.ts';
import type { ApplyJob, ProcessResult } from './processor.ts';

/** What a job's payload says about the request behind it, read leniently (old jobs have none). */
function origin(data: unknown): { requestId?: string; opId?: string; type?: string } {
  if (typeof data !== 'object' || data === null) return {};
  const d = data as Record<string, unknown>;
  const out: { requestId?: string; opId?: string; type?: string } = {};
  if (typeof d.requestId === 'string') out.requestId = d.requestId;
  if (typeof d.opId === 'string') out.opId = d.opId;
  if (typeof d.type === 'string') out.type = d.type;
  return out;
}

/**
 * The processor run in its job's context: every line it logs carries the request id the job
 * brought (and, traced, the trace id), and with a tracer each attempt is a `kvq.process` span, the
 * child of the acceptance span whose trace context the job carries (a job without one, from
 * before tracing or from a producer without it, starts a trace of its own). One debug line per
 * attempt says what it came to.
 */
export function withJobContext<J extends ApplyJob & { queueName?: string }>(
  process: (job: J) => Promise<ProcessResult>,
  deps: { logger: Logger; tracer?: Tracer | undefined },
): (job: J) => Promise<ProcessResult> {
  const { logger, tracer } = deps;
  const run = async (job: J): Promise<ProcessResult> => {
    const r = await process(job);
    logger.debug(
      { opId: r.opId, jobId: job.id, attempt: job.attemptsMade + 1, status: r.status },
      'job processed',
    );
    return r;
  };
  if (!tracer) {
    return (job) => withLogFields({ requestId: origin(job.data).requestId }, () => run(job));
  }
  return (job) => {
    const from = origin(job.data);
    const carrier = traceCarrierSchema.safeParse((job.data as { trace?: unknown } | null)?.trace);
    const parent = contextOfCarrier(carrier.success ? carrier.data : undefined);
    const attributes: Attributes = {
      [ATTR.MESSAGING_SYSTEM]: 'bullmq',
      [ATTR.MESSAGING_OPERATION_TYPE]: 'process',
      [ATTR.JOB_ATTEMPT]: job.attemptsMade + 1,
    };
    if (job.queueName !== undefined) attributes[ATTR.MESSAGING_DESTINATION] = job.queueName;
    if (job.id !== undefined) attributes[ATTR.MESSAGING_MESSAGE_ID] = job.id;
    if (from.opId !== undefined) attributes[ATTR.OP_ID] = from.opId;
    if (from.type !== undefined) attributes[ATTR.OP_TYPE] = from.type;
    if (from.requestId !== undefined) attributes[ATTR.REQUEST_ID] = from.requestId;
    const span = tracer.startSpan('kvq.process', { kind: SpanKind.CONSUMER, attributes }, parent);
    return withLogFields({ requestId: from.requestId }, () =>
      context.with(trace.setSpan(parent, span), async () => {
        try {
          const r = await run(job);
          span.setAttribute(ATTR.OP_STATUS, r.status);
          return r;
        } catch (err) {
          recordFailure(span, err);
          throw err;
        } finally {
          span.end();
        }
      }),
    );
  };
}

/**
 * The record store with a `kvq.apply` span around each fenced apply (one Lua script on the data
 * Redis), a child of the job's span.
 */
export function traceApply(records: RecordStore, tracer: Tracer | undefined): RecordStore {
  if (!tracer) return records;
  return {
    ...records,
    apply: (op) =>
      tracer.startActiveSpan(
        'kvq.apply',
        {
          kind: SpanKind.CLIENT,
          attributes: {
            [ATTR.DB_SYSTEM_NAME]: 'redis',
            [ATTR.OP_ID]: op.opId,
            [ATTR.OP_TYPE]: op.type,
            [ATTR.OP_VERSION]: op.version,
          },
        },
        async (span) => {
          try {
            const outcome = await records.apply(op);
            span.setAttribute(ATTR.APPLY_OUTCOME, outcome.outcome);
            return outcome;
          } catch (err) {
            recordFailure(span, err);
            throw err;
          } finally {
            span.end();
          }
        },
      ),
  };
}
