import { type ErrorCode, ERRORS } from '../../core/index.ts';
import { PROBLEM_TYPE_BASE } from '../problem.ts';
import { type ResponseHeader, responseHeaders } from './headers.ts';

/**
 * Problem responses of the OpenAPI document, from the one error catalogue: per status, the codes
 * an operation can answer with (a `code` enum and the real `status`), an example for each code
 * and the headers that come with them.
 */

/** Codes any request can meet: an unparsable request or target, oversized headers, a bug. */
export const EVERY_ROUTE_CODES = ['BAD_REQUEST', 'HEADERS_TOO_LARGE', 'INTERNAL'] as const;

/**
 * Codes every /v1 request can meet: with AUTH=keys, a missing, unknown or repeated bearer, a key
 * whose scope is below the route's (access.ts); with rate limits on, a client over its quota.
 */
export const V1_CODES = [
  'UNAUTHORIZED',
  'INVALID_HEADER',
  'INSUFFICIENT_SCOPE',
  'RATE_LIMITED',
] as const;

/** Every 503 a write can answer (admission, acceptance, conditional decision, replication). */
export const WRITE_UNAVAILABLE = [
  'SHUTTING_DOWN',
  'BACKLOG_FULL',
  'QUEUE_FULL',
  'DATA_FULL',
  'QUEUE_UNAVAILABLE',
  'DATA_UNAVAILABLE',
  'KEY_BUSY',
  'WRITE_NOT_REPLICATED',
] as const satisfies readonly ErrorCode[];

const EXAMPLE_DETAIL: Partial<Record<ErrorCode, string>> = {
  VALIDATION_FAILED: 'ttlSeconds: Too small: expected number to be >=1',
  INVALID_HEADER: 'If-Match must be "*" or a quoted version such as "3"',
  UNAUTHORIZED: 'send Authorization: Bearer <token>',
  RATE_LIMITED: 'this client address may make 100 requests per 1 s; retry in 1 s',
  INSUFFICIENT_SCOPE: 'this needs the write scope; key key_4fQ9xZ2bLmP0 has read',
  KEY_FORBIDDEN: 'key key_4fQ9xZ2bLmP0 may not write this key',
  PRECONDITION_FAILED: 'If-Match: "3" failed: key is at version 4',
  KEY_EXISTS: 'key exists (at version 2)',
  KEY_BUSY: 'writes to this key are still pending after 2000 ms',
};

/** An example problem document for `code`, as problemParts renders it. */
export function problemExample(code: ErrorCode) {
  const { status, title } = ERRORS[code];
  const body: Record<string, unknown> = {
    type: `${PROBLEM_TYPE_BASE}${code.toLowerCase().replaceAll('_', '-')}`,
    title,
    status,
    detail: EXAMPLE_DETAIL[code] ?? title,
    code,
    requestId: 'checkout-7f3a91',
  };
  if (code === 'VALIDATION_FAILED') {
    body.errors = [{ path: 'ttlSeconds', message: 'Too small: expected number to be >=1' }];
  }
  if (code === 'PRECONDITION_FAILED' || code === 'KEY_EXISTS') {
    body.currentVersion = code === 'KEY_EXISTS' ? 2 : 4;
    body.decidedAfterVersion = code === 'KEY_EXISTS' ? 2 : 4;
    body.decidedAt = '2026-11-21T20:00:01.250Z';
  }
  return body;
}

/** Headers that come with a status (besides x-request-id). */
function headersFor(status: number, codes: readonly ErrorCode[], waits: boolean) {
  const more: Partial<Record<ResponseHeader, boolean>> = {};
  if (status === 503) more['retry-after'] = true;
  if (status === 401 || status === 403) more['www-authenticate'] = true;
  if (status === 429) {
    more['retry-after'] = true;
    more.ratelimit = true;
    more['ratelimit-policy'] = true;
  }
  // A repeated Authorization header: 400 INVALID_HEADER with a challenge.
  if (status === 400 && codes.includes('UNAUTHORIZED')) more['www-authenticate'] = false;
  // A failed condition decided after `prefer: wait` (the op was accepted, then failed).
  if (waits && (status === 409 || status === 412)) more['preference-applied'] = false;
  const headers = responseHeaders(more);
  // The HTTP parser answers these before a request id exists.
  if (status === 431) return {};
  if (status === 400)
    return { ...headers, 'x-request-id': { ...headers['x-request-id'], required: false } };
  return headers;
}

/**
 * OpenAPI responses for the problem codes an operation can answer, grouped by status, plus the
 * codes every route meets (and, for /v1, the bearer check's). `waits`: the operation honours
 * prefer: wait, so a failed condition may come back after the wait.
 */
export function problemResponses(
  codes: readonly ErrorCode[],
  opts: { v1?: boolean; waits?: boolean } = {},
) {
  const all = new Set<ErrorCode>([...codes, ...EVERY_ROUTE_CODES, ...(opts.v1 ? V1_CODES : [])]);
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of all) {
    const { status } = ERRORS[code];
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const out: Record<string, object> = {};
  for (const [status, list] of [...byStatus].sort(([a], [b]) => a - b)) {
    list.sort();
    out[String(status)] = {
      description: list.map((c) => `${c}: ${ERRORS[c].title}`).join('; '),
      headers: headersFor(status, [...all], opts.waits === true),
      content: {
        'application/problem+json': {
          schema: {
            allOf: [
              { $ref: '#/components/schemas/Problem' },
              {
                type: 'object',
                properties: { status: { const: status }, code: { enum: list } },
              },
            ],
          },
          examples: Object.fromEntries(list.map((c) => [c, { value: problemExample(c) }])),
        },
      },
    };
  }
  return out;
}
