import type { Context } from 'hono';

import { AppError, ERRORS } from '../core/index.ts';

export const PROBLEM_TYPE_BASE = 'https://kvq.dev/problems/';

/** Renders an AppError as RFC 9457 application/problem+json. */
export function problemResponse(c: Context, err: AppError, extra: Record<string, unknown> = {}) {
  const body: Record<string, unknown> = {
    type: `${PROBLEM_TYPE_BASE}${err.code.toLowerCase().replaceAll('_', '-')}`,
    title: ERRORS[err.code].title,
    status: err.status,
    detail: err.detail,
    code: err.code,
    requestId: requestIdOf(c),
    ...extra,
  };
  if (err.errors) body.errors = err.errors;
  const headers: Record<string, string> = {
    'Content-Type': 'application/problem+json',
    ...err.headers,
  };
  if (err.status === 503 && !headers['Retry-After']) headers['Retry-After'] = '1';
  return new Response(JSON.stringify(body), { status: err.status, headers });
}

export function requestIdOf(c: Context): string {
  const id: unknown = c.get('requestId' as never);
  return typeof id === 'string' ? id : '';
}
