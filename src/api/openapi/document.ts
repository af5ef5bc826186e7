import type { OpenAPIHono } from '@hono/zod-openapi';

import { problem } from '../schemas.ts';
import { REQUEST_HEADERS, responseHeaders } from './headers.ts';

/**
 * The OpenAPI 3.1 document: generated from the route definitions (zod schemas, headers, problem
 * codes), plus what the generator cannot derive: the HEAD twin of every GET (Hono answers HEAD
 * with the GET handler, without a body), tags and the bearer scheme.
 */

const TAGS = [
  { name: 'keys', description: 'Read, list and write keys. Writes are queued and versioned.' },
  { name: 'ops', description: 'Write receipts: the status and outcome of each accepted write.' },
  {
    name: 'dead letters',
    description: 'Writes that ran out of attempts: inspect, replay as new writes, or discard.',
  },
  {
    name: 'admin',
    description:
      'Admin scope only: API keys (create — the secret is shown once —, list, revoke) and the ' +
      'audit log. (The read-only queue dashboard, Bull Board, is a web UI at /admin/queues, ' +
      'outside this document.)',
  },
  { name: 'health', description: 'Liveness and readiness probes.' },
  { name: 'docs', description: 'This document and its Swagger UI (served offline).' },
];

const DESCRIPTION = `Queued key-value service: writes are accepted (202) with a per-key version and applied by
workers with version fencing; reads come from the data Redis.

Every error is \`application/problem+json\` (RFC 9457) with a \`code\` from one catalogue; each
response lists the codes it can carry. A request to a known path with a method it does not serve
is answered 405 METHOD_NOT_ALLOWED with an \`allow\` header; an unknown path 404 ROUTE_NOT_FOUND.
Response header names are lowercase. With AUTH=keys, routes under /v1 need
\`authorization: Bearer <API key>\`: 401 UNAUTHORIZED without a valid key, 403 INSUFFICIENT_SCOPE
for a key below the route's scope (read < write < admin), 403 KEY_FORBIDDEN for a key outside the
key's prefixes (the route table is in docs/security.md). With rate limits on, every /v1
answer carries the IETF draft's \`ratelimit\` and \`ratelimit-policy\` fields, and a client over
its quota gets 429 RATE_LIMITED with \`retry-after\`.`;

const REQUEST_ID = { $ref: '#/components/parameters/RequestId' };
/** The RateLimit fields, on any /v1 answer while a limit applies to the caller. */
const { ratelimit, 'ratelimit-policy': ratelimitPolicy } = responseHeaders({
  ratelimit: false,
  'ratelimit-policy': false,
});

/** A /v1 operation's responses, each with the RateLimit fields (required on a 429 already). */
function withRateLimitFields(op: Operation): Operation {
  const responses: Record<string, Record<string, unknown>> = {};
  for (const [status, r] of Object.entries(op.responses ?? {})) {
    const headers = (r.headers ?? {}) as Record<string, unknown>;
    responses[status] = {
      ...r,
      headers: { ratelimit, 'ratelimit-policy': ratelimitPolicy, ...headers },
    };
  }
  return { ...op, responses };
}

type Operation = Record<string, unknown> & {
  operationId?: string;
  summary?: string;
  responses?: Record<string, Record<string, unknown>>;
};

/** A GET operation's HEAD twin: same parameters, headers and statuses, no bodies. */
function headOf(get: Operation): Operation {
  const responses: Record<string, Record<string, unknown>> = {};
  for (const [status, r] of Object.entries(get.responses ?? {})) {
    const rest = { ...r };
    delete rest.content;
    responses[status] = rest;
  }
  // getKey -> headKey, listKeys -> headListKeys.
  const id = (get.operationId ?? '').replace(/^get(?=[A-Z])/, '');
  return {
    ...get,
    operationId: `head${id.charAt(0).toUpperCase()}${id.slice(1)}`,
    summary: `${get.summary ?? ''} (headers only)`,
    responses,
  };
}

export function registerDocumentComponents(app: OpenAPIHono): void {
  const registry = app.openAPIRegistry;
  registry.register('Problem', problem);
  registry.registerComponent('securitySchemes', 'bearerAuth', {
    type: 'http',
    scheme: 'bearer',
    description:
      'An API key (kvq_...), or a deprecated API_TOKENS entry (an admin key); enforced with AUTH=keys. ' +
      'Operations list the scope they need: read (none listed), write or admin.',
  });
  for (const [name, param] of Object.entries(REQUEST_HEADERS)) {
    registry.registerComponent('parameters', name, { ...param });
  }
}

/** The document as /openapi.json serves it. */
export function buildDocument(app: OpenAPIHono) {
  const doc = app.getOpenAPI31Document({
    openapi: '3.1.0',
    info: {
      title: 'kvq',
      version: '1',
      description: DESCRIPTION,
      // OpenAPI 3.1's SPDX `identifier`, which the generator's 3.0-era type does not know.
      license: { name: 'MIT', identifier: 'MIT' } as { name: string },
    },
    servers: [{ url: '/', description: 'The kvq instance serving this document' }],
    tags: TAGS,
  });
  const paths: Record<string, Record<string, Operation>> = {};
  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    const ops: Record<string, Operation> = {};
    for (const [method, op] of Object.entries(item as Record<string, Operation>)) {
      // Every request's id is read by the request context, whatever the route.
      const parameters = [...((op.parameters as unknown[] | undefined) ?? []), REQUEST_ID];
      // Routes outside /v1 take no credentials (said explicitly, for linters and generators).
      const full = { security: [], ...op, parameters };
      ops[method] = path.startsWith('/v1/') ? withRateLimitFields(full) : full;
    }
    if (ops.get) ops.head = headOf(ops.get);
    paths[path] = ops;
  }
  return { ...doc, paths };
}
