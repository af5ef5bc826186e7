import type { Context } from 'hono';

import { AppError } from '../core/index.ts';
import type { KvRecord, StoredReceipt } from '../store/index.ts';
import { isTerminal, publicReceipt } from '../store/index.ts';
import { etagMatches } from './http-headers.ts';
import { problemParts } from './problem.ts';

const iso = (ms: number) => new Date(ms).toISOString();

export const keyUrl = (key: string) => `/v1/keys/${encodeURIComponent(key)}`;
export const opUrl = (id: string) => `/v1/ops/${encodeURIComponent(id)}`;

/**
 * A record's JSON, written by hand so that the stored value text is spliced in as is: a read never
 * parses and re-serialises the value.
 */
export function recordJson(r: KvRecord, extra = ''): string {
  return (
    `{"key":${JSON.stringify(r.key)},"value":${r.valueJson},"version":${String(r.version)},` +
    `"createdAt":"${iso(r.createdAt)}","updatedAt":"${iso(r.updatedAt)}",` +
    `"expiresAt":${r.expiresAt === null ? 'null' : `"${iso(r.expiresAt)}"`}${extra}}`
  );
}

/**
 * Handlers build some responses by hand (to splice stored JSON text in as is), which the typed
 * route responses cannot express; the route schemas still document them.
 */
export function untyped(res: Response): never {
  return res as never;
}

/** A response as plain parts, so that Hono and the raw node:http paths send the same thing. */
export interface ResponseParts {
  status: number;
  headers: Record<string, string>;
  body: string | null;
}

/** Parts out through c.body, which keeps @hono/node-server on its fast response path. */
export function sendParts(c: Context, p: ResponseParts): Response {
  return p.body === null
    ? c.body(null, p.status as 204, p.headers)
    : c.body(p.body, p.status as 200, p.headers);
}

const json = (body: string, status: number, headers: Record<string, string>): ResponseParts => ({
  status,
  headers: { 'content-type': 'application/json', ...headers },
  body,
});

/**
 * Answers a read of `rec`: 200 with the record and its version as ETag, 304 when If-None-Match
 * names that version; KEY_NOT_FOUND (404) when there is no live record.
 */
export function readResponse(
  rec: KvRecord | null,
  ifNoneMatch: string | undefined,
  requestId: string,
): ResponseParts {
  if (!rec) throw new AppError('KEY_NOT_FOUND', 'key does not exist');
  const etag = `"${String(rec.version)}"`;
  if (etagMatches(ifNoneMatch, rec.version)) {
    return { status: 304, headers: { etag, 'x-request-id': requestId }, body: null };
  }
  return json(recordJson(rec), 200, { etag, 'x-request-id': requestId });
}

/**
 * Answers a write. Without a terminal status: 202 with the receipt. After `Prefer: wait`, the
 * outcome: 201/200 with the record for an applied put, 204 for an applied delete, 412/409 for a
 * failed condition, and 200 with the receipt for anything else (superseded, dead).
 */
export function writeResponse(
  r: StoredReceipt,
  opts: { valueJson?: string | undefined; waited?: number | undefined; requestId: string },
): ResponseParts {
  const headers: Record<string, string> = { 'x-request-id': opts.requestId };
  if (opts.waited !== undefined) headers['preference-applied'] = `wait=${String(opts.waited)}`;
  const envelope = JSON.stringify({ op: publicReceipt(r) });
  if (!isTerminal(r.status) || opts.waited === undefined) {
    headers.location = opUrl(r.id);
    return json(envelope, 202, headers);
  }
  if (r.status === 'applied' && r.type === 'delete') {
    return { status: 204, headers, body: null };
  }
  if (r.status === 'applied' && opts.valueJson !== undefined && r.appliedAtMs !== null) {
    const rec: KvRecord = {
      key: r.key,
      valueJson: opts.valueJson,
      version: r.version,
      createdAt: r.createdAtMs ?? r.appliedAtMs,
      updatedAt: r.appliedAtMs,
      expiresAt: r.expiresAtMs,
    };
    headers.etag = `"${String(r.version)}"`;
    if (r.created) headers.location = keyUrl(r.key);
    return json(
      recordJson(rec, `,"op":${JSON.stringify(publicReceipt(r))}`),
      r.created ? 201 : 200,
      headers,
    );
  }
  if (
    r.status === 'failed' &&
    (r.error?.code === 'PRECONDITION_FAILED' || r.error?.code === 'KEY_EXISTS')
  ) {
    const err = new AppError(r.error.code, r.error.message, { headers });
    return problemParts(err, opts.requestId, { op: publicReceipt(r) });
  }
  return json(envelope, 200, headers);
}
