import type { OpenAPIHono } from '@hono/zod-openapi';
import { zValidator } from '@hono/zod-validator';
import type { Context } from 'hono';

import { AppError, listingPositionAfter, type Principal, rulesOf } from '../../core/index.ts';
import { isTerminal, type ListedKey } from '../../store/index.ts';
import {
  mayRead,
  principalOf,
  requireKeyAccess,
  requireListing,
  waitForReadableOp,
} from '../auth/gate.ts';
import { beforeDeadline, WAIT_GRACE_MS } from '../deadline.ts';
import type { ApiDeps } from '../deps.ts';
import { parseWriteCondition, preferWaitSeconds } from '../http-headers.ts';
import { keyFromUrl, validateKey } from '../key-path.ts';
import { validationHook } from '../middleware/errors.ts';
import { jsonBody, maxWriteBodyBytes } from '../middleware/json-body.ts';
import { requestTarget } from '../middleware/request-context.ts';
import {
  createKeyRoute,
  deleteRoute,
  getRoute,
  listRoute,
  putRoute,
} from '../openapi/key-routes.ts';
import { requestIdOf } from '../problem.ts';
import { readResponse, sendParts, untyped } from '../render.ts';
import { putBody, READ_CONSISTENCIES, type ReadConsistency } from '../schemas.ts';
import { submitPut, submitWrite, type WriteRequest } from '../write-flow.ts';

/**
 * Key routes are documented at `/v1/keys/{key}` (openapi/key-routes.ts) but served on
 * `/v1/keys/*`, because a key may contain "/": a wildcard keeps Hono on its RegExpRouter (a
 * `{.+}` parameter would force the slower TrieRouter for every route). Bodies are still validated
 * by the documented zod schemas.
 */
const KEY_ROUTE = '/v1/keys/*';
const KEY_PREFIX = '/v1/keys/';

/** Thrown by key routes for a path that only looks like theirs; rendered as 404/405. */
export class NotARoute extends Error {
  override name = 'NotARoute';
}

function encodeCursor(key: string): string {
  return Buffer.from(key, 'utf8').toString('base64url');
}

function decodeCursor(cursor: string, maxKeyBytes: number): string {
  if (!/^[A-Za-z0-9_-]+$/.test(cursor))
    throw new AppError('INVALID_CURSOR', 'cursor is not base64url');
  const bytes = Buffer.from(cursor, 'base64url');
  const key = bytes.toString('utf8');
  if (bytes.length > maxKeyBytes || !Buffer.from(key, 'utf8').equals(bytes)) {
    throw new AppError('INVALID_CURSOR', 'cursor does not name a key');
  }
  return key;
}

/** Raw pages scanned for one filtered listing page before it is answered short, with a cursor. */
const MAX_SCANS = 10;

/**
 * A listing page of the keys `p` may read: raw pages are filtered, and scanned on until the page
 * is full or MAX_SCANS pages were read; then `last` is where the next page starts (the last key
 * answered, or scanned when the page is short). So a page may hold fewer than `limit` keys, or
 * none, and still have a next cursor.
 */
async function listReadable(
  deps: ApiDeps,
  p: Principal | undefined,
  prefix: string | undefined,
  after: string | undefined,
  limit: number,
): Promise<{ items: ListedKey[]; more: boolean; last: string | undefined }> {
  if (!p || !rulesOf(p)) return deps.records.list({ prefix, after, limit });
  const items: ListedKey[] = [];
  let cursor = after;
  for (let scans = 0; scans < MAX_SCANS; scans++) {
    const page = await deps.records.list({ prefix, after: cursor, limit });
    for (const item of page.items) {
      if (!mayRead(p, item.key)) continue;
      items.push(item);
      if (items.length === limit) {
        const more = page.more || item.key !== page.last;
        return { items, more, last: item.key };
      }
    }
    if (!page.more || page.last === undefined) return { items, more: false, last: undefined };
    // The next cursor must not name a key `p` may not read: past one, go on from a position
    // made of `p`'s own rules.
    if (mayRead(p, page.last)) cursor = page.last;
    else {
      cursor = listingPositionAfter(p, page.last, deps.limits.maxKeyBytes);
      if (cursor === undefined) return { items, more: false, last: undefined };
    }
  }
  return { items, more: true, last: cursor };
}

/**
 * `?consistency=` of a key read; an unknown value is refused, never read as the default, and so is
 * a repeated one (the first of `primary&consistency=replicated` would silently weaken the read).
 */
function readConsistency(raw: string[] | undefined): ReadConsistency {
  if (raw === undefined) return 'primary';
  const [one] = raw;
  if (
    raw.length === 1 &&
    one !== undefined &&
    (READ_CONSISTENCIES as readonly string[]).includes(one)
  )
    return one as ReadConsistency;
  throw new AppError(
    'VALIDATION_FAILED',
    `consistency must be one of ${READ_CONSISTENCIES.join(', ')}`,
    {
      errors: [{ path: 'consistency', message: `not one of ${READ_CONSISTENCIES.join(', ')}` }],
    },
  );
}

export function registerKeyRoutes(app: OpenAPIHono, deps: ApiDeps): void {
  const { limits } = deps;
  /**
   * The key's record (or its absence) from the data primary; with `replicated`, answered only
   * once MIN_REPLICA_ACKS replicas have every write the primary had made when it was read (the
   * writers' shared WAIT, on the connection that read it: records.getReplicated): as durable as an
   * applied write.
   */
  const readRecord = async (key: string, consistency: ReadConsistency) => {
    if (consistency === 'primary') return deps.records.get(key);
    const { record: rec, replicated } = await deps.records.getReplicated(key);
    if (!replicated) {
      throw new AppError(
        'READ_NOT_REPLICATED',
        `${rec ? `version ${String(rec.version)} of ${key}` : `what the primary holds for ${key}`} is not yet confirmed by MIN_REPLICA_ACKS replicas; retry the read`,
      );
    }
    return rec;
  };
  const body = jsonBody(maxWriteBodyBytes(limits));
  const keyOf = (c: Context) => {
    // `/v1/keys/*` also matches the collection itself, which is not a key: answer as unrouted.
    if (c.req.path === '/v1/keys' || c.req.path === '/v1/keys/') throw new NotARoute();
    // The target as sent, as on the raw fast lane (c.req.url went through WHATWG URL parsing).
    const key = keyFromUrl(requestTarget(c), KEY_PREFIX, limits.maxKeyBytes);
    requireKeyAccess(c, key);
    return key;
  };
  const condition = (c: Context) =>
    parseWriteCondition(c.req.header('if-match'), c.req.header('if-none-match'));

  const writeRequest = (c: Context): WriteRequest => ({
    idempotencyKey: c.req.header('idempotency-key'),
    prefer: c.req.header('prefer'),
    requestId: requestIdOf(c),
  });

  app.openapi(listRoute, async (c) => {
    const q = c.req.valid('query');
    if (q.prefix !== undefined && Buffer.byteLength(q.prefix) > limits.maxKeyBytes) {
      throw new AppError('VALIDATION_FAILED', 'prefix is longer than the longest key', {
        errors: [{ path: 'prefix', message: `over ${String(limits.maxKeyBytes)} bytes` }],
      });
    }
    const after = q.cursor === undefined ? undefined : decodeCursor(q.cursor, limits.maxKeyBytes);
    const principal = principalOf(c);
    requireListing(principal, q.prefix ?? '');
    const page = await listReadable(deps, principal, q.prefix || undefined, after, q.limit);
    const body = {
      items: page.items.map((i) => ({
        key: i.key,
        version: i.version,
        updatedAt: new Date(i.updatedAt).toISOString(),
        expiresAt: i.expiresAt === null ? null : new Date(i.expiresAt).toISOString(),
      })),
      nextCursor: page.more && page.last !== undefined ? encodeCursor(page.last) : null,
    };
    return c.json(body, 200);
  });

  for (const route of [putRoute, deleteRoute, getRoute]) app.openAPIRegistry.registerPath(route);
  const putValidator = zValidator('json', putBody, validationHook);

  app.put(KEY_ROUTE, body, putValidator, async (c) => {
    const key = keyOf(c);
    const { ttlSeconds } = c.req.valid('json');
    const put = { valueJson: c.get('valueJson'), ttlSeconds };
    return sendParts(c, await submitPut(deps, writeRequest(c), key, put, condition(c)));
  });

  app.openapi({ ...createKeyRoute, middleware: [body] }, async (c) => {
    const input = c.req.valid('json');
    const key = validateKey(input.key, limits.maxKeyBytes, 'body');
    requireKeyAccess(c, key);
    const put = { valueJson: c.get('valueJson'), ttlSeconds: input.ttlSeconds };
    const parts = await submitPut(
      deps,
      writeRequest(c),
      key,
      put,
      { kind: 'absent' },
      'KEY_EXISTS',
    );
    return untyped(sendParts(c, parts));
  });

  app.delete(KEY_ROUTE, async (c) => {
    const key = keyOf(c);
    const cond = condition(c);
    if (cond?.kind === 'absent') {
      throw new AppError('INVALID_HEADER', 'If-None-Match is not supported on DELETE');
    }
    return sendParts(
      c,
      await submitWrite(deps, writeRequest(c), { key, type: 'delete', condition: cond }),
    );
  });

  // The hot read path: no validator middleware (the key is checked by keyFromUrl, `after` is any
  // op id), and the record's JSON text goes out through c.body.
  app.get(KEY_ROUTE, async (c) => {
    const key = keyOf(c);
    // Checked before any wait for `after`: a bad request is refused at once.
    const consistency = readConsistency(c.req.queries('consistency'));
    const after = c.req.query('after');
    let answerBy: number | undefined;
    if (after !== undefined) {
      const waitS = preferWaitSeconds(c.req.header('prefer'));
      const ms = waitS === undefined ? deps.readAfterWaitMs : waitS * 1000;
      answerBy = Date.now() + ms + WAIT_GRACE_MS;
      const r = await waitForReadableOp(deps.waiter, principalOf(c), after, ms);
      if (!r)
        throw new AppError('OP_NOT_FOUND', `no op ${after} (unknown, or its receipt expired)`);
      if (!isTerminal(r.status)) {
        throw new AppError('OP_PENDING', `op ${after} is still ${r.status}; retry the read`, {
          headers: { 'retry-after': '1' },
        });
      }
    }
    let get = readRecord(key, consistency);
    if (answerBy !== undefined) {
      // After a wait the read keeps to the wait's deadline (or half a grace, if the wait used it
      // all), so that the whole request answers within its wait plus 1.5 s whatever Redis does.
      const by = Math.max(answerBy, Date.now() + WAIT_GRACE_MS / 2);
      get = beforeDeadline(get, by, 'DATA_UNAVAILABLE', `reading ${key}`);
    }
    const rec = await get;
    return sendParts(c, readResponse(rec, c.req.header('if-none-match'), requestIdOf(c)));
  });
}
