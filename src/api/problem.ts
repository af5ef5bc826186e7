import type { Context } from 'hono';

import { AppError, type ErrorCode, ERRORS } from '../core/index.ts';

export const PROBLEM_TYPE_BASE = 'https://kvq.dev/problems/';

/** An AppError as RFC 9457 problem+json parts, for any transport (Hono or the raw read path). */
export function problemParts(
  err: AppError,
  requestId: string,
  extra: Record<string, unknown> = {},
): { status: number; headers: Record<string, string>; body: string } {
  const body: Record<string, unknown> = {
    type: `${PROBLEM_TYPE_BASE}${err.code.toLowerCase().replaceAll('_', '-')}`,
    title: ERRORS[err.code].title,
    status: err.status,
    detail: err.detail,
    code: err.code,
    requestId,
    ...err.extensions,
    ...extra,
  };
  if (err.errors) body.errors = err.errors;
  const headers: Record<string, string> = {
    'content-type': 'application/problem+json',
    'x-request-id': requestId,
    ...err.headers,
  };
  if (err.status === 503 && !headers['retry-after']) headers['retry-after'] = '1';
  return { status: err.status, headers, body: JSON.stringify(body) };
}

/** Renders an AppError as RFC 9457 application/problem+json. */
export function problemResponse(c: Context, err: AppError, extra: Record<string, unknown> = {}) {
  const { status, headers, body } = problemParts(err, requestIdOf(c), extra);
  return new Response(body, { status, headers });
}

export function requestIdOf(c: Context): string {
  const id: unknown = c.get('requestId' as never);
  return typeof id === 'string' ? id : '';
}

/**
 * A whole HTTP/1.1 response for errors the HTTP parser raises before any route runs (bad request
 * line, header overflow): still problem+json, so every 4xx a client sees has the same shape.
 */
export function rawProblemResponse(parserCode: string | undefined): string {
  const code: ErrorCode =
    parserCode === 'HPE_HEADER_OVERFLOW' ? 'HEADERS_TOO_LARGE' : 'BAD_REQUEST';
  const { status, title } = ERRORS[code];
  const body = JSON.stringify({
    type: `${PROBLEM_TYPE_BASE}${code.toLowerCase().replaceAll('_', '-')}`,
    title,
    status,
    detail: `the HTTP request could not be parsed (${parserCode ?? 'unknown'})`,
    code,
    requestId: '',
  });
  return (
    `HTTP/1.1 ${String(status)} ${title}\r\ncontent-type: application/problem+json\r\n` +
    `Content-Length: ${String(Buffer.byteLength(body))}\r\nConnection: close\r\n\r\n${body}`
  );
}

/** For requests the HTTP adapter rejects before the app sees them (invalid request target). */
export function requestErrorResponse(): Response {
  const code: ErrorCode = 'BAD_REQUEST';
  const body = JSON.stringify({
    type: `${PROBLEM_TYPE_BASE}bad-request`,
    title: ERRORS[code].title,
    status: 400,
    detail: 'the request target is not a valid origin-form path',
    code,
    requestId: '',
  });
  return new Response(body, {
    status: 400,
    headers: { 'content-type': 'application/problem+json' },
  });
}
