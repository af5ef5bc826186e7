import type { components, paths } from './openapi-types.ts';

/**
 * The client's types, taken from the types generated from the app's OpenAPI document: a change to
 * a route's schema changes them, and the client stops type-checking where it no longer fits.
 */

type Method = 'get' | 'put' | 'post' | 'delete';

/** The JSON body of a route's response with this status. */
export type JsonBody<
  P extends keyof paths,
  M extends Method,
  S extends number,
> = paths[P][M] extends { responses: infer R }
  ? S extends keyof R
    ? R[S] extends { content: { 'application/json': infer B } }
      ? B
      : never
    : never
  : never;

/** A route's query parameters. */
export type Query<P extends keyof paths, M extends Method> = paths[P][M] extends {
  parameters: { query?: infer Q };
}
  ? NonNullable<Q>
  : never;

/** A key's record: its value, version (the ETag) and times. */
export type KeyRecord = JsonBody<'/v1/keys/{key}', 'get', 200>;
/** A write's receipt (GET /v1/ops/{id}). */
export type OpReceipt = JsonBody<'/v1/ops/{id}', 'get', 200>['op'];
export type OpStatus = OpReceipt['status'];
export type KeyListPage = JsonBody<'/v1/keys', 'get', 200>;
export type KeyListItem = KeyListPage['items'][number];
export type DeadLetterPage = JsonBody<'/v1/dlq', 'get', 200>;
export type DeadLetterSummary = DeadLetterPage['items'][number];
/** One dead letter with the original op (value included). */
export type DeadLetter = JsonBody<'/v1/dlq/{id}', 'get', 200>;
export type ReplayAllResult = JsonBody<'/v1/dlq/retry', 'post', 200>;
export type Health = JsonBody<'/healthz', 'get', 200>;
/** An API key as the admin API shows it (never the secret). */
export type ApiKey = JsonBody<'/v1/admin/keys/{id}', 'get', 200>;
/** A new API key: what it is, and its secret, shown this once. */
export type CreatedApiKey = JsonBody<'/v1/admin/keys', 'post', 201>;
/** What POST /v1/admin/keys takes. */
export type CreateApiKeyInput = components['schemas']['CreateApiKey'];
/** A page of the audit log of admin actions (admin scope). */
export type AuditPage = JsonBody<'/v1/admin/audit', 'get', 200>;
export type AuditEntry = AuditPage['items'][number];
/** An RFC 9457 problem document as kvq sends it, with any extension members. */
export type Problem = components['schemas']['Problem'] & Record<string, unknown>;
/** Any JSON value. */
export type JsonValue = components['schemas']['PutBody']['value'];

export type ListKeysQuery = Query<'/v1/keys', 'get'>;
export type ListDeadLettersQuery = Query<'/v1/dlq', 'get'>;
export type ListAuditEntriesQuery = Query<'/v1/admin/audit', 'get'>;

/** Statuses after which a receipt does not change. */
export const TERMINAL_STATUSES: readonly OpStatus[] = ['applied', 'superseded', 'failed', 'dead'];

export function isTerminal(op: Pick<OpReceipt, 'status'>): boolean {
  return TERMINAL_STATUSES.includes(op.status);
}
