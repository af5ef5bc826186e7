import type { IncomingMessage, ServerResponse } from 'node:http';

import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { MiddlewareHandler } from 'hono';

import { ATTR, contextOfCarrier, type Tracer } from '../../core/index.ts';
import { routeLabel } from './access-log.ts';

/** One request's server span, from its start to its answer. */
export interface RequestSpan {
  /** Runs `fn` with the span active: spans started inside are its children, log lines carry it. */
  run<T>(fn: () => T): T;
  /** Ends the span once the request is answered (5xx marks it failed). */
  end(status: number, route: string, requestId: string | undefined): void;
  /**
   * For a node:http request served without Hono: listeners added to `req` and `res` from now on
   * run in the span's context (an event listener otherwise runs in the socket's), and the span
   * ends when the response closes.
   */
  follow(req: IncomingMessage, res: ServerResponse, route: string, requestId: string): void;
}

/**
 * Starts a request's span: the same function for both transports (the Hono middleware below and
 * the raw fast lane in raw-paths.ts). An incoming W3C `traceparent` (and `tracestate`) makes it
 * the child of the client's span; without one it starts a trace. Undefined when tracing is off,
 * so that a request then costs nothing here.
 */
export type RequestTracer = (
  method: string,
  path: string,
  traceparent: string | undefined,
  tracestate: string | undefined,
) => RequestSpan;

export function createRequestTracer(tracer: Tracer | undefined): RequestTracer | undefined {
  if (!tracer) return undefined;
  return (method, path, traceparent, tracestate) => {
    const parent = contextOfCarrier(
      traceparent === undefined ? undefined : { traceparent, tracestate },
    );
    const span = tracer.startSpan(
      method,
      {
        kind: SpanKind.SERVER,
        attributes: {
          [ATTR.HTTP_REQUEST_METHOD]: method,
          [ATTR.URL_PATH]: path,
          [ATTR.URL_SCHEME]: 'http',
        },
      },
      parent,
    );
    const active = trace.setSpan(parent, span);
    const handle: RequestSpan = {
      run: (fn) => context.with(active, fn),
      follow(req, res, route, requestId) {
        context.bind(active, req);
        context.bind(active, res);
        res.once('close', () => {
          handle.end(res.statusCode, route, requestId);
        });
      },
      end(status, route, requestId) {
        span.updateName(`${method} ${route}`);
        span.setAttribute(ATTR.HTTP_ROUTE, route);
        span.setAttribute(ATTR.HTTP_RESPONSE_STATUS_CODE, status);
        if (requestId !== undefined) span.setAttribute(ATTR.REQUEST_ID, requestId);
        // Server spans fail on 5xx only: a 4xx is the client's mistake, answered as designed.
        if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
        span.end();
      },
    };
    return handle;
  };
}

/** Hono adapter for createRequestTracer: first in the chain, so the access log runs inside it. */
export function traceRequests(tracer: Tracer | undefined): MiddlewareHandler | undefined {
  const start = createRequestTracer(tracer);
  if (!start) return undefined;
  return async (c, next) => {
    const span = start(
      c.req.method,
      c.req.path,
      c.req.header('traceparent'),
      c.req.header('tracestate'),
    );
    try {
      await span.run(next);
    } finally {
      span.end(c.res.status, routeLabel(c), c.get('requestId'));
    }
  };
}
