import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createAuditor } from '../../src/api/audit.ts';
import { createLogger } from '../../src/core/index.ts';
import { createAuditLog, createLedger, type Ledger } from '../../src/store/index.ts';
import { call, type Stack, startStack } from '../helpers/stack.ts';

/**
 * Dead-letter replays, discards and replay-alls each leave an audit entry (actor key id, action,
 * target, outcome, request id) in a capped stream in the data Redis, read newest first through
 * GET /v1/admin/audit; a stream that cannot be written never fails the action.
 */

const TOKEN = 'audit-admin-token';
const auth = { authorization: `Bearer ${TOKEN}` };

let s: Stack;
let ledger: Ledger;
beforeAll(async () => {
  s = await startStack({ env: { API_TOKENS: TOKEN } });
  ledger = createLedger({
    redis: s.queueRedis,
    layout: s.layout,
    retentionMs: 3_600_000,
    retentionCount: 1000,
  });
});
afterAll(async () => {
  await s.stop();
});

/** A dead letter for `key`, as a worker leaves one. */
const bury = (opId: string, key: string) =>
  ledger.finish({
    opId,
    key,
    status: 'dead',
    attempts: 3,
    error: { code: 'DATA_UNAVAILABLE', message: 'data Redis: connect ECONNREFUSED' },
    deadLetter: { opId, key, type: 'put', version: 1, acceptedAt: 1_000, value: '{"v":1}' },
  });

/** Every audit entry, newest first, read page by page. */
async function allEntries(limit = 2) {
  const items: Record<string, unknown>[] = [];
  let cursor: string | null = null;
  do {
    const q: string = cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`;
    const r = await call(s.url, 'GET', `/v1/admin/audit?limit=${String(limit)}${q}`, {
      headers: auth,
    });
    expect(r.status).toBe(200);
    expect(r.body.items.length).toBeLessThanOrEqual(limit);
    items.push(...(r.body.items as Record<string, unknown>[]));
    cursor = r.body.nextCursor as string | null;
  } while (cursor !== null);
  return items;
}

describe('dead-letter actions', () => {
  it('each leaves one entry: actor, action, target, outcome, request id; newest first', async () => {
    await bury('au-1', 'au/one');
    await bury('au-2', 'au/two');
    await bury('au-3', 'au/three');
    await bury('au-4', 'other/four');
    const send = (method: string, path: string, id: string) =>
      call(s.url, method, path, { headers: { ...auth, 'x-request-id': id } });
    expect((await send('POST', '/v1/dlq/au-1/retry', 'req-replay')).status).toBe(202);
    expect((await send('DELETE', '/v1/dlq/au-2', 'req-discard')).status).toBe(204);
    expect((await send('DELETE', '/v1/dlq/au-2', 'req-discard-again')).status).toBe(404);
    expect((await send('POST', '/v1/dlq/no-such/retry', 'req-replay-missing')).status).toBe(404);
    const all = await send('POST', '/v1/dlq/retry?prefix=au/', 'req-replay-all');
    expect(all.body).toEqual({ retried: 1, skipped: 0 });

    const entries = await allEntries(2);
    const actor = entries[0]?.actor as string;
    expect(actor).toMatch(/^token-\d+$/);
    // The key id never holds the token itself.
    expect(actor).not.toContain(TOKEN);
    expect(
      entries.map(({ action, target, outcome, code, requestId, detail }) => ({
        action,
        target,
        outcome,
        code,
        requestId,
        detail,
      })),
    ).toEqual([
      {
        action: 'dead_letter.replay_all',
        target: 'au/',
        outcome: 'ok',
        code: undefined,
        requestId: 'req-replay-all',
        detail: 'retried 1, skipped 0',
      },
      {
        action: 'dead_letter.replay',
        target: 'no-such',
        outcome: 'refused',
        code: 'DEAD_LETTER_NOT_FOUND',
        requestId: 'req-replay-missing',
        detail: undefined,
      },
      {
        action: 'dead_letter.discard',
        target: 'au-2',
        outcome: 'refused',
        code: 'DEAD_LETTER_NOT_FOUND',
        requestId: 'req-discard-again',
        detail: undefined,
      },
      {
        action: 'dead_letter.discard',
        target: 'au-2',
        outcome: 'ok',
        code: undefined,
        requestId: 'req-discard',
        detail: undefined,
      },
      {
        action: 'dead_letter.replay',
        target: 'au-1',
        outcome: 'ok',
        code: undefined,
        requestId: 'req-replay',
        detail: undefined,
      },
    ]);
    for (const e of entries) {
      expect(e.actor).toBe(actor);
      expect(e.id).toMatch(/^\d+-\d+$/);
    }
    const times = entries.map((e) => Date.parse(e.time as string));
    expect(times).toEqual([...times].sort((a, b) => b - a));
    // au-4 was outside the prefix: still there, and the replay-all touched nothing else.
    expect((await call(s.url, 'GET', '/v1/dlq/au-4', { headers: auth })).status).toBe(200);
  });

  it('GET /v1/admin/audit refuses a cursor it did not issue, and needs credentials', async () => {
    const bad = await call(s.url, 'GET', '/v1/admin/audit?cursor=nope', { headers: auth });
    expect([bad.status, bad.body.code]).toEqual([400, 'INVALID_CURSOR']);
    const none = await call(s.url, 'GET', '/v1/admin/audit');
    expect([none.status, none.body.code]).toEqual([401, 'UNAUTHORIZED']);
    const post = await call(s.url, 'POST', '/v1/admin/audit', { headers: auth });
    expect([post.status, post.headers.get('allow')]).toEqual([405, 'GET, HEAD']);
  });

  it('GET /v1/admin/audit answers 4xx, never 500, for a stream id Redis cannot page before', async () => {
    // `0-0` has no id before it, and 2^64 is past the largest id: both look like stream ids.
    for (const cursor of ['0-0', '18446744073709551616-0', '1-18446744073709551616']) {
      const r = await call(s.url, 'GET', `/v1/admin/audit?limit=1&cursor=${cursor}`, {
        headers: auth,
      });
      expect([cursor, r.status, r.body.code]).toEqual([cursor, 400, 'INVALID_CURSOR']);
    }
    // The largest id is one: everything is before it.
    const top = await call(
      s.url,
      'GET',
      `/v1/admin/audit?limit=1&cursor=18446744073709551615-18446744073709551615`,
      {
        headers: auth,
      },
    );
    expect(top.status).toBe(200);
  });

  it('a stream the data Redis will not take never fails the action', async () => {
    const key = s.layout.global.auditLog;
    const before = await s.kvRedis.xlen(key);
    const kept = await s.kvRedis.xrange(key, '-', '+');
    // Not a stream any more: XADD answers WRONGTYPE.
    await s.kvRedis.del(key);
    await s.kvRedis.set(key, 'not a stream');
    try {
      await bury('au-5', 'au/five');
      const r = await call(s.url, 'DELETE', '/v1/dlq/au-5', { headers: auth });
      expect(r.status).toBe(204);
      expect((await call(s.url, 'GET', '/v1/dlq/au-5', { headers: auth })).status).toBe(404);
    } finally {
      await s.kvRedis.del(key);
      for (const [, fields] of kept) await s.kvRedis.xadd(key, '*', ...fields);
    }
    expect(await s.kvRedis.xlen(key)).toBe(before);
  });
});

describe('the auditor', () => {
  it('counts and logs an entry the stream did not take, and answers as the action did', async () => {
    const key = `${s.config.KEY_PREFIX}{audit}:wrong-type`;
    await s.kvRedis.set(key, 'not a stream');
    let failures = 0;
    const lines: Record<string, any>[] = [];
    const logger = createLogger('info', 'test', {
      format: 'json',
      destination: { write: (line: string) => lines.push(JSON.parse(line)) },
    });
    const auditor = createAuditor({
      auditLog: createAuditLog({ redis: s.kvRedis, key, maxEntries: 10 }),
      logger,
      onWriteFailed: () => failures++,
      traceId: () => 'trace-1',
    });
    const app = new Hono();
    app.post('/act', async (c) => {
      const r = await auditor.audited(c, { action: 'key.revoke', target: 'key_x' }, () =>
        Promise.resolve('done'),
      );
      return c.text(r);
    });
    const res = await app.request('/act', { method: 'POST' });
    expect([res.status, await res.text()]).toEqual([200, 'done']);
    expect(failures).toBe(1);
    // The entry is in the log all the same: one info line with all of it, then the failure.
    const entry = {
      actor: 'anonymous',
      action: 'key.revoke',
      target: 'key_x',
      outcome: 'ok',
      traceId: 'trace-1',
    };
    expect(lines.map((l) => [l.level, l.msg])).toEqual([
      [30, 'audit: key.revoke key_x ok'],
      [50, 'audit log write failed; the entry is only in this log'],
    ]);
    expect(lines[0]?.audit).toMatchObject(entry);
    expect(lines[1]?.audit).toMatchObject(entry);
    await s.kvRedis.del(key);
  });
});

describe('the stream', () => {
  it('is capped near AUDIT_LOG_MAX_ENTRIES, keeping the newest', async () => {
    const key = `${s.config.KEY_PREFIX}{audit}:cap-test`;
    const max = 50;
    const log = createAuditLog({ redis: s.kvRedis, key, maxEntries: max });
    const total = 600;
    for (let i = 0; i < total; i++) {
      await log.append({
        actor: 'key_cap',
        action: 'key.create',
        target: `k${String(i)}`,
        outcome: 'ok',
        requestId: `r${String(i)}`,
      });
    }
    // MAXLEN ~ trims whole stream nodes only: at most one node more than asked.
    const [, node] = (await s.kvRedis.config('GET', 'stream-node-max-entries')) as [string, string];
    const len = await s.kvRedis.xlen(key);
    expect(len).toBeGreaterThanOrEqual(max);
    expect(len).toBeLessThanOrEqual(max + Number(node));
    expect(len).toBeLessThan(total);
    const page = await log.page({ limit: 3 });
    expect(page.items.map((e) => e.target)).toEqual(['k599', 'k598', 'k597']);
    await s.kvRedis.del(key);
  });
});
