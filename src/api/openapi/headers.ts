/**
 * The HTTP headers of the OpenAPI document: the request headers kvq reads (as reusable
 * parameters) and the response headers it sets. Names are lowercase, as kvq writes them on the
 * wire (and as HTTP/2 and fetch show them); HTTP header names are case-insensitive either way.
 */

/** Request headers, under components.parameters (the key is the component name). */
export const REQUEST_HEADERS = {
  RequestId: {
    name: 'x-request-id',
    in: 'header',
    required: false,
    description:
      'Your id for this request (1-255 of A-Z a-z 0-9 _ - =): echoed in the x-request-id response ' +
      'header and in problem documents. Anything else (or a repeated header) gets a fresh UUID.',
    schema: { type: 'string', pattern: '^[\\w\\-=]{1,255}$' },
    example: 'checkout-7f3a91',
  },
  IfMatch: {
    name: 'if-match',
    in: 'header',
    required: false,
    description:
      'Write only if the key is live at this version ("N", the ETag of a read) or live at all ' +
      '("*"); else 412 PRECONDITION_FAILED. Decided once the key has no pending writes.',
    schema: { type: 'string', pattern: '^(\\*|"[0-9]{1,15}")$' },
    example: '"3"',
  },
  IfNoneMatchWrite: {
    name: 'if-none-match',
    in: 'header',
    required: false,
    description: 'Only "*": write only if the key does not exist; else 412 PRECONDITION_FAILED.',
    schema: { type: 'string', const: '*' },
    example: '*',
  },
  IfNoneMatchRead: {
    name: 'if-none-match',
    in: 'header',
    required: false,
    description: 'ETags you hold ("3", W/"3" or *): 304 Not Modified when one names the version.',
    schema: { type: 'string' },
    example: '"3"',
  },
  IdempotencyKey: {
    name: 'idempotency-key',
    in: 'header',
    required: false,
    description:
      'Makes a retried write safe: the same key with the same request answers the first op ' +
      'again (or, for a conditional write refused without an op, the same 412/409/404); with ' +
      'a different request, 422 IDEMPOTENCY_KEY_REUSED. 1-255 visible ASCII.',
    schema: { type: 'string', pattern: '^[\\x21-\\x7e]{1,255}$' },
    example: 'order-1001-set-address',
  },
  PreferWait: {
    name: 'prefer',
    in: 'header',
    required: false,
    description:
      'RFC 7240 `wait=N` (seconds, capped at 30): wait up to N seconds for the op to finish and ' +
      'answer its outcome; preference-applied says it was honoured. Other preferences are ignored.',
    schema: { type: 'string' },
    example: 'wait=5',
  },
} as const;

export type RequestHeader = keyof typeof REQUEST_HEADERS;

/** `$ref`s to request header parameters, for a route's `parameters`. */
export const headerParams = (...names: RequestHeader[]) =>
  names.map((n) => ({ $ref: `#/components/parameters/${n}` }));

/** Response headers kvq sets. */
const RESPONSE_HEADERS = {
  'x-request-id': {
    description: 'The request id: yours (x-request-id) when usable, else a fresh UUID.',
    schema: { type: 'string' },
    example: 'checkout-7f3a91',
  },
  etag: {
    description: "The key's version as a strong entity tag: send it back in if-match.",
    schema: { type: 'string', pattern: '^"[0-9]+"$' },
    example: '"3"',
  },
  location: {
    description: 'Where to read what was made: the op receipt (202) or the key (201).',
    schema: { type: 'string', format: 'uri-reference' },
    example: '/v1/ops/4-5b1985c3-73ca-4f0f-af84-6e662f661dc6',
  },
  'retry-after': {
    description: 'Seconds to wait before retrying.',
    schema: { type: 'integer', minimum: 0 },
    example: 1,
  },
  'preference-applied': {
    description: 'Present when prefer: wait=N was honoured: the wait in seconds.',
    schema: { type: 'string', pattern: '^wait=[0-9]+$' },
    example: 'wait=5',
  },
  'www-authenticate': {
    description: 'RFC 6750 bearer challenge.',
    schema: { type: 'string' },
    example: 'Bearer realm="kvq", error="invalid_token"',
  },
  ratelimit: {
    description:
      'With a rate limit on (per API key, or per client address without one): what is left of the ' +
      'quota (r) and the seconds until the window ends (t), per the IETF draft ' +
      'draft-ietf-httpapi-ratelimit-headers.',
    schema: { type: 'string', pattern: '^"default";r=[0-9]+;t=[0-9]+$' },
    example: '"default";r=57;t=1',
  },
  'ratelimit-policy': {
    description:
      'With a rate limit on: the quota (q) requests per window of w seconds (IETF draft ' +
      'draft-ietf-httpapi-ratelimit-headers).',
    schema: { type: 'string', pattern: '^"default";q=[0-9]+;w=[0-9]+$' },
    example: '"default";q=100;w=1',
  },
  'cache-control': {
    description: 'Caching of a pinned Swagger UI asset.',
    schema: { type: 'string' },
    example: 'public, max-age=86400',
  },
} as const;

export type ResponseHeader = keyof typeof RESPONSE_HEADERS;

/**
 * A response's headers: x-request-id (on every answer kvq renders) plus `more`, each marked
 * required (always on this response) or not (only in some cases, said in its description).
 */
export function responseHeaders(more: Partial<Record<ResponseHeader, boolean>> = {}) {
  const all: Partial<Record<ResponseHeader, boolean>> = { 'x-request-id': true, ...more };
  return Object.fromEntries(
    Object.entries(all).map(([name, required]) => [
      name,
      { ...RESPONSE_HEADERS[name as ResponseHeader], required },
    ]),
  );
}
