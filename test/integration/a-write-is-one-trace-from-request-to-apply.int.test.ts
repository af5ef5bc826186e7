import { randomBytes } from 'node:crypto';

import { SpanKind } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startTracing } from '../../src/bin/tracing.ts';
import {
  createLifecycle,
  createLogger,
  type Lifecycle,
  loadConfig,
  type Tracer,
} from '../../src/core/index.ts';
import { call, eventually, type Stack, startStack } from '../helpers/stack.ts';

/**
 * One trace per write, against real Redis and a real worker: the request's server span (on the
 * raw fast lane and on Hono alike), its `kvq.accept` child, the worker's `kvq.process` span
 * continuing the trace context the job carries, and its `kvq.apply` child. An incoming
 * `traceparent` is continued. With tracing off nothing is recorded; a job without trace context
 * still applies; every log line of the op carries its request id and, traced, its trace id.
 */

const exporter = new InMemorySpanExporter();
let tracer: Tracer;
let tracing: Lifecycle;

beforeAll(async () => {
  const logger = createLogger('silent', 'test');
  tracing = createLifecycle({ deadlineMs: 5000, logger });
  // Tracing is off in this configuration: the exporter turns it on, as a test's collector.
  const t = await startTracing(loadConfig({}), 'test', logger, tracing, exporter);
  if (!t) throw new Error('a tracer was expected');
  tracer = t;
});
afterAll(async () => {
  await tracing.shutdown('test done');
});

const hex = (bytes: number) => randomBytes(bytes).toString('hex');
const spansOf = (traceId: string) =>
  exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
const named = (spans: ReadableSpan[], name: string) => {
  const found = spans.filter((s) => s.name === name);
  expect(found.map((s) => s.name)).toEqual([name]);
  return found[0] as ReadableSpan;
};
const parentOf = (s: ReadableSpan) => s.parentSpanContext?.spanId;

/** The spans of one write's trace, once its worker span has ended (it ends after the answer). */
async function writeTrace(traceId: string): Promise<Record<string, ReadableSpan>> {
  const spans = await eventually(() => {
    const all = spansOf(traceId);
    return all.some((s) => s.name === 'kvq.process') ? all : undefined;
  });
  expect(spans, `spans of trace ${traceId}`).toBeDefined();
  const list = spans ?? [];
  const http = list.find((s) => s.kind === SpanKind.SERVER);
  expect(http, 'the server span').toBeDefined();
  return {
    http: http as ReadableSpan,
    accept: named(list, 'kvq.accept'),
    process: named(list, 'kvq.process'),
    apply: named(list, 'kvq.apply'),
  };
}

function expectChain(t: Record<string, ReadableSpan>) {
  const { http, accept, process, apply } = t as Record<
    'http' | 'accept' | 'process' | 'apply',
    ReadableSpan
  >;
  expect(parentOf(accept)).toBe(http.spanContext().spanId);
  expect(accept.kind).toBe(SpanKind.PRODUCER);
  expect(parentOf(process)).toBe(accept.spanContext().spanId);
  expect(process.kind).toBe(SpanKind.CONSUMER);
  expect(parentOf(apply)).toBe(process.spanContext().spanId);
  expect(apply.attributes['kvq.apply.outcome']).toBe('applied');
  expect(process.attributes['kvq.op.status']).toBe('applied');
  expect(process.attributes['kvq.op.id']).toBe(accept.attributes['kvq.op.id']);
  expect(accept.attributes['kvq.accept.result']).toBe('new');
}

describe('tracing on', () => {
  let stack: Stack;
  const lines: Record<string, unknown>[] = [];
  beforeAll(async () => {
    stack = await startStack({
      tracing: { api: tracer, worker: tracer },
      env: { LOG_LEVEL: 'debug', ACCESS_LOG: 'true' },
      logDestination: {
        write: (l: string) => lines.push(JSON.parse(l) as Record<string, unknown>),
      },
    });
  });
  afterAll(async () => {
    await stack.stop();
  });

  // A trailing "?" sends the very same request to Hono instead of the raw fast lane.
  it.each([
    ['the raw fast lane', 'PUT', '/v1/keys/traced-raw', { value: 1 }],
    ['Hono', 'PUT', '/v1/keys/traced-hono?', { value: 2 }],
    ['Hono, a conditional write', 'POST', '/v1/keys', { key: 'traced-create', value: 3 }],
  ] as const)(
    'a write through %s continues the incoming traceparent: HTTP -> accept -> process -> apply',
    async (_lane, method, path, body) => {
      const traceId = hex(16);
      const clientSpan = hex(8);
      const res = await call(stack.url, method, path, {
        body,
        headers: { Prefer: 'wait=5', traceparent: `00-${traceId}-${clientSpan}-01` },
      });
      expect(res.status).toBeLessThan(300);
      expect(res.body.op.status).toBe('applied');
      const t = await writeTrace(traceId);
      expect(parentOf(t.http as ReadableSpan)).toBe(clientSpan);
      expectChain(t);
      const http = t.http as ReadableSpan;
      const requestId = res.headers.get('x-request-id');
      expect(http.name).toBe(`${method} ${method === 'POST' ? '/v1/keys' : '/v1/keys/{key}'}`);
      expect(http.attributes['http.response.status_code']).toBe(res.status);
      expect(http.attributes['kvq.request_id']).toBe(requestId);
      expect(t.process?.attributes['kvq.request_id']).toBe(requestId);

      // Every line of the op's life carries the request id and the trace id: the API's access
      // log line and the worker's line for the job.
      const ofRequest = await eventually(() => {
        const found = lines.filter((l) => l.requestId === requestId);
        return found.some((l) => l.msg === 'job processed') ? found : undefined;
      });
      expect(ofRequest?.map((l) => l.msg)).toEqual(
        expect.arrayContaining(['request', 'job processed']),
      );
      for (const line of ofRequest ?? []) expect(line.traceId, String(line.msg)).toBe(traceId);
    },
  );

  it('a write without traceparent starts a trace of its own', async () => {
    const res = await call(stack.url, 'PUT', '/v1/keys/untraced-client', {
      body: { value: 'x' },
      headers: { Prefer: 'wait=5' },
    });
    expect(res.body.op.status).toBe('applied');
    const line = lines.find(
      (l) => l.msg === 'request' && l.requestId === res.headers.get('x-request-id'),
    );
    expect(line?.traceId).toMatch(/^[0-9a-f]{32}$/);
    const t = await writeTrace(String(line?.traceId));
    expect(t.http?.parentSpanContext).toBeUndefined();
    expectChain(t);
  });

  it('a read gets a server span too', async () => {
    const traceId = hex(16);
    const res = await call(stack.url, 'GET', '/v1/keys/traced-raw', {
      headers: { traceparent: `00-${traceId}-${hex(8)}-01` },
    });
    expect(res.status).toBe(200);
    const spans = await eventually(() =>
      spansOf(traceId).length > 0 ? spansOf(traceId) : undefined,
    );
    expect(spans?.map((s) => [s.name, s.kind, s.attributes['http.response.status_code']])).toEqual([
      ['GET /v1/keys/{key}', SpanKind.SERVER, 200],
    ]);
  });

  it("an admin action's audit entry carries the request's trace id", async () => {
    const traceId = hex(16);
    const res = await call(stack.url, 'DELETE', '/v1/dlq/no-such-op', {
      headers: { traceparent: `00-${traceId}-${hex(8)}-01` },
    });
    expect(res.status).toBe(404);
    const page = await call(stack.url, 'GET', '/v1/admin/audit?limit=10');
    const entry = (page.body.items as { target: string; traceId?: string }[]).find(
      (e) => e.target === 'no-such-op',
    );
    expect(entry?.traceId).toBe(traceId);
  });
});

describe('a repeated Idempotency-Key', () => {
  it('traces its acceptance (a dup) and the re-sent job of the original op', async () => {
    // No worker yet: the first op stays queued, so the repeat re-sends its job.
    const stack = await startStack({ worker: false, tracing: { api: tracer, worker: tracer } });
    try {
      const headers = { 'Idempotency-Key': `idem-${hex(4)}` };
      const first = await call(stack.url, 'PUT', '/v1/keys/repeated', {
        body: { value: 1 },
        headers,
      });
      expect(first.status).toBe(202);
      const traceId = hex(16);
      const again = await call(stack.url, 'PUT', '/v1/keys/repeated', {
        body: { value: 1 },
        headers: { ...headers, traceparent: `00-${traceId}-${hex(8)}-01` },
      });
      expect(again.body.op.id).toBe(first.body.op.id);
      const spans = await eventually(() =>
        spansOf(traceId).some((s) => s.kind === SpanKind.SERVER) ? spansOf(traceId) : undefined,
      );
      const http = spans?.find((s) => s.kind === SpanKind.SERVER) as ReadableSpan;
      const accept = named(spans ?? [], 'kvq.accept');
      const enqueue = named(spans ?? [], 'kvq.enqueue');
      expect(accept.attributes['kvq.accept.result']).toBe('dup');
      expect(parentOf(accept)).toBe(http.spanContext().spanId);
      expect(parentOf(enqueue)).toBe(http.spanContext().spanId);
      expect(enqueue.attributes['kvq.op.id']).toBe(first.body.op.id);
      // The original op's job still carries the first request's trace: it applies there.
      await stack.startWorker();
      const process = await eventually(() =>
        exporter
          .getFinishedSpans()
          .find((s) => s.name === 'kvq.process' && s.attributes['kvq.op.id'] === first.body.op.id),
      );
      expect(process?.spanContext().traceId).not.toBe(traceId);
      expect(process?.attributes['kvq.op.status']).toBe('applied');
    } finally {
      await stack.stop();
    }
  });
});

describe('tracing off', () => {
  it('creates no spans; the worker still logs the request id with the job', async () => {
    const lines: Record<string, unknown>[] = [];
    const stack = await startStack({
      env: { LOG_LEVEL: 'debug', ACCESS_LOG: 'true' },
      logDestination: {
        write: (l: string) => lines.push(JSON.parse(l) as Record<string, unknown>),
      },
    });
    try {
      exporter.reset();
      const res = await call(stack.url, 'PUT', '/v1/keys/off', {
        body: { value: 1 },
        headers: { Prefer: 'wait=5', traceparent: `00-${hex(16)}-${hex(8)}-01` },
      });
      expect(res.body.op.status).toBe('applied');
      const requestId = res.headers.get('x-request-id');
      const processed = await eventually(() =>
        lines.find((l) => l.msg === 'job processed' && l.requestId === requestId),
      );
      expect(processed).toBeDefined();
      expect(exporter.getFinishedSpans()).toEqual([]);
      for (const line of lines) expect(line.traceId, String(line.msg)).toBeUndefined();
    } finally {
      await stack.stop();
    }
  });
});

describe('a job without trace context', () => {
  it('still applies, in a worker span that starts its own trace', async () => {
    // An API without tracing enqueues jobs without a trace context (as older versions did).
    const stack = await startStack({ tracing: { worker: tracer } });
    try {
      exporter.reset();
      const res = await call(stack.url, 'PUT', '/v1/keys/old-job', {
        body: { value: 'old' },
        headers: { Prefer: 'wait=5' },
      });
      expect(res.body.op.status).toBe('applied');
      const process = await eventually(() =>
        exporter
          .getFinishedSpans()
          .find((s) => s.name === 'kvq.process' && s.attributes['kvq.op.id'] === res.body.op.id),
      );
      expect(process?.parentSpanContext).toBeUndefined();
      expect(process?.attributes['kvq.op.status']).toBe('applied');
      const apply = exporter
        .getFinishedSpans()
        .find((s) => s.name === 'kvq.apply' && s.attributes['kvq.op.id'] === res.body.op.id);
      expect(parentOf(apply as ReadableSpan)).toBe(process?.spanContext().spanId);
      expect((await call(stack.url, 'GET', '/v1/keys/old-job')).body.value).toBe('old');
    } finally {
      await stack.stop();
    }
  });
});
