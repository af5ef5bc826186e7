import type { Context } from 'hono';

import { AppError } from '../core/index.ts';
import type { KvRecord, StoredReceipt } from '../store/index.ts';
import { isTerminal, publicReceipt } from '../store/index.ts';
import { problemResponse } from './problem.ts';

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

/** JSON text out through c.body, which keeps @hono/node-server on its fast response path. */
export function jsonResponse(
  c: Context,
  body: string,
  status: 200 | 201 | 202,
  headers: Record<string, string> = {},
): Response {
  return c.body(body, status, { 'Content-Type': 'application/json', ...headers });
}

/**
 * Answers a write. Without a terminal status: 202 with the receipt. After `Prefer: wait`, the
 * outcome: 201/200 with the record for an applied put, 204 for an applied delete, 412/409 for a
 * failed condition, and 200 with the receipt for anything else (superseded, dead).
 */
export function writeResponse(
  c: Context,
  r: StoredReceipt,
  opts: { valueJson?: string | undefined; waited?: number | undefined },
): Response {
  const headers: Record<string, string> = {};
  if (opts.waited !== undefined) headers['Preference-Applied'] = `wait=${String(opts.waited)}`;
  const envelope = JSON.stringify({ op: publicReceipt(r) });
  if (!isTerminal(r.status) || opts.waited === undefined) {
    headers.Location = opUrl(r.id);
    return jsonResponse(c, envelope, 202, headers);
  }
  if (r.status === 'applied' && r.type === 'delete') {
    return c.body(null, 204, headers);
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
    headers.ETag = `"${String(r.version)}"`;
    if (r.created) headers.Location = keyUrl(r.key);
    return jsonResponse(
      c,
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
    return problemResponse(c, err, { op: publicReceipt(r) });
  }
  return jsonResponse(c, envelope, 200, headers);
}
