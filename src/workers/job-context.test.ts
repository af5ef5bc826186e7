import { context, propagation } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  InMemorySpanExporter,
  SimpleSpanProcessor,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createLogger, type Tracer } from '../core/index.ts';
import { withJobContext } from './job-context.ts';
import type { ApplyJob, ProcessResult } from './processor.ts';

// What bin/tracing.ts installs when tracing is on, with an in-memory exporter.
const exporter = new InMemorySpanExporter();
const provider = new TracerProvider({
  spanProcessors: [new SimpleSpanProcessor({ exporter })],
});
let tracer: Tracer;
beforeAll(() => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  tracer = provider.getTracer('test');
});
afterAll(async () => {
  await provider.shutdown();
});

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT = '00f067aa0ba902b7';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger('debug', 'test', {
    format: 'json',
    destination: { write: (l: string) => lines.push(JSON.parse(l) as Record<string, unknown>) },
  });
  return { lines, logger };
}

const job = (data: Record<string, unknown>): ApplyJob => ({
  id: 'op-1',
  data: { opId: 'op-1', key: 'k', type: 'put', value: '1', ...data },
  attemptsMade: 0,
  opts: { attempts: 3 },
});

/** A processor that logs one line and reports the op applied. */
const processorLogging =
  (logger: ReturnType<typeof createLogger>) =>
  (j: ApplyJob): Promise<ProcessResult> => {
    logger.info({ jobId: j.id }, 'inside the job');
    return Promise.resolve({ opId: 'op-1', status: 'applied', duplicate: false });
  };

describe('withJobContext', () => {
  it('continues the trace context the job carries; its lines carry request and trace ids', async () => {
    exporter.reset();
    const { lines, logger } = capture();
    const run = withJobContext(processorLogging(logger), { logger, tracer });
    await run(job({ requestId: 'req-1', trace: { traceparent: `00-${TRACE_ID}-${PARENT}-01` } }));
    const [span, ...more] = exporter.getFinishedSpans();
    expect(more).toEqual([]);
    expect(span?.name).toBe('kvq.process');
    expect(span?.spanContext().traceId).toBe(TRACE_ID);
    expect(span?.parentSpanContext?.spanId).toBe(PARENT);
    expect(span?.attributes['kvq.request_id']).toBe('req-1');
    expect(lines.map((l) => [l.msg, l.requestId, l.traceId])).toEqual([
      ['inside the job', 'req-1', TRACE_ID],
      ['job processed', 'req-1', TRACE_ID],
    ]);
  });

  it.each([
    ['no trace context', {}],
    ['a malformed traceparent', { trace: { traceparent: 'not-a-traceparent' } }],
    ['a trace field that is no object', { trace: 42, requestId: 7 }],
  ])('runs a job with %s, in a trace of its own', async (_name, data) => {
    exporter.reset();
    const { lines, logger } = capture();
    const run = withJobContext(processorLogging(logger), { logger, tracer });
    expect((await run(job(data))).status).toBe('applied');
    const [span] = exporter.getFinishedSpans();
    expect(span?.parentSpanContext).toBeUndefined();
    expect(span?.spanContext().traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(lines[0]?.traceId).toBe(span?.spanContext().traceId);
  });

  it('without a tracer records no span but still logs the request id', async () => {
    exporter.reset();
    const { lines, logger } = capture();
    const run = withJobContext(processorLogging(logger), { logger });
    await run(job({ requestId: 'req-2', trace: { traceparent: `00-${TRACE_ID}-${PARENT}-01` } }));
    expect(exporter.getFinishedSpans()).toEqual([]);
    expect(lines.map((l) => [l.msg, l.requestId, l.traceId])).toEqual([
      ['inside the job', 'req-2', undefined],
      ['job processed', 'req-2', undefined],
    ]);
  });

  it('marks the span failed when the attempt throws', async () => {
    exporter.reset();
    const { logger } = capture();
    const err = Object.assign(new Error('data Redis down'), { code: 'DATA_UNAVAILABLE' });
    const run = withJobContext(() => Promise.reject(err), { logger, tracer });
    await expect(run(job({}))).rejects.toBe(err);
    const [span] = exporter.getFinishedSpans();
    expect(span?.status.code).toBe(2);
    expect(span?.attributes['error.type']).toBe('DATA_UNAVAILABLE');
  });
});
