import type { Scope } from '../core/index.ts';

/**
 * Who may call what: the one route -> scope table, read by the authentication middleware (Hono),
 * by the raw fast lane and by the documentation (docs/security.md prints it; a test holds the
 * two together). `key` says which user key the prefix rules are checked on, if any.
 */
export interface RouteAccess {
  method: string;
  path: string;
  /** `open`: no key needed (and none checked). */
  scope: Scope | 'open';
  key?: 'path' | 'body' | 'listing' | 'receipt' | undefined;
  note: string;
}

export const ROUTE_ACCESS: readonly RouteAccess[] = [
  {
    method: 'GET',
    path: '/v1/keys/{key}',
    scope: 'read',
    key: 'path',
    note: 'with `?after={opId}`, the op must be one of a key the caller may read (else 404 `OP_NOT_FOUND`)',
  },
  { method: 'HEAD', path: '/v1/keys/{key}', scope: 'read', key: 'path', note: 'as GET' },
  { method: 'PUT', path: '/v1/keys/{key}', scope: 'write', key: 'path', note: '' },
  { method: 'DELETE', path: '/v1/keys/{key}', scope: 'write', key: 'path', note: '' },
  {
    method: 'POST',
    path: '/v1/keys',
    scope: 'write',
    key: 'body',
    note: 'the prefix rules apply to `key` in the body',
  },
  {
    method: 'GET',
    path: '/v1/keys',
    scope: 'read',
    key: 'listing',
    note: 'only readable keys are listed; a `prefix` under which no key is readable is 403 `KEY_FORBIDDEN`',
  },
  {
    method: 'GET',
    path: '/v1/ops/{id}',
    scope: 'read',
    key: 'receipt',
    note: "the op's key must be readable, else 404 `OP_NOT_FOUND` (as for an unknown op)",
  },
  { method: 'GET', path: '/v1/dlq', scope: 'admin', note: 'dead letters hold any key' },
  { method: 'GET', path: '/v1/dlq/{id}', scope: 'admin', note: '' },
  { method: 'DELETE', path: '/v1/dlq/{id}', scope: 'admin', note: '' },
  { method: 'POST', path: '/v1/dlq/{id}/retry', scope: 'admin', note: '' },
  { method: 'POST', path: '/v1/dlq/retry', scope: 'admin', note: '' },
  { method: 'GET', path: '/v1/admin/keys', scope: 'admin', note: 'never secrets or digests' },
  { method: 'POST', path: '/v1/admin/keys', scope: 'admin', note: 'answers the secret once' },
  { method: 'GET', path: '/v1/admin/keys/{id}', scope: 'admin', note: '' },
  { method: 'DELETE', path: '/v1/admin/keys/{id}', scope: 'admin', note: 'revokes; idempotent' },
  { method: 'GET', path: '/v1/admin/audit', scope: 'admin', note: 'the audit log, newest first' },
  {
    method: '*',
    path: '/v1/*',
    scope: 'read',
    note: 'any other /v1 target: a valid key of any scope, then 404 or 405',
  },
  {
    method: 'GET',
    path: '/admin/queues',
    scope: 'admin',
    note: 'Bull Board, read-only (other methods 405); HTTP Basic with the key as password, or Bearer; served per `ADMIN_UI`',
  },
  { method: 'GET', path: '/healthz', scope: 'open', note: 'liveness probe' },
  { method: 'GET', path: '/readyz', scope: 'open', note: 'readiness probe' },
  { method: 'GET', path: '/openapi.json', scope: 'open', note: '' },
  { method: 'GET', path: '/docs', scope: 'open', note: 'Swagger UI (`DOCS_ENABLED`)' },
  {
    method: 'GET',
    path: '/metrics',
    scope: 'open',
    note: 'on its own listener (`METRICS_PORT`), never on the API port: guard it with network policy',
  },
];

/** `{key}` spans the rest of the path (a key may hold "/"); other parameters one segment. */
function pattern(path: string): RegExp {
  const re = path
    .replace(/[.]/g, '\\.')
    .replace('{key}', '.+')
    .replace(/\{[a-z]+\}/g, '[^/]+')
    .replace(/\*$/, '.*');
  return new RegExp(`^${re}$`);
}

const COMPILED = ROUTE_ACCESS.filter((r) => r.path.startsWith('/v1')).map((r) => ({
  ...r,
  re: pattern(r.path),
}));

/**
 * The table's entry for a request under /v1 (HEAD as GET); undefined outside /v1 (all open:
 * probes, docs, the OpenAPI document).
 */
export function accessFor(method: string, path: string): RouteAccess | undefined {
  if (path !== '/v1' && !path.startsWith('/v1/')) return undefined;
  // `/v1/keys/` is no key: the listing route's table entry does not apply, the catch-all does.
  for (const r of COMPILED) {
    if ((r.method === method || r.method === '*') && r.re.test(path)) return r;
  }
  return COMPILED[COMPILED.length - 1];
}
