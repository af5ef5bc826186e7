import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { queueKeys } from '../../src/core/index.ts';
import { type RedisServer, startRedisServer } from '../../src/redis/index.ts';
import { createLedger, type Ledger } from '../../src/store/index.ts';
import { call, eventually, type Stack, startStack } from '../helpers/stack.ts';

/**
 * GET /v1/dlq and POST /v1/dlq/retry against real Redis: summaries named like receipts and read
 * without the values, pages that never skip or repeat an entry (ties on the failure time
 * included), and a 503 rather than a short page when an entry cannot be read.
 */

let s: Stack;
let ledger: Ledger;
let k: ReturnType<typeof queueKeys>;

let dir: string;
let queue: RedisServer;
beforeAll(async () => {
  // Its own queue Redis, so that MONITOR sees only this file's traffic. No worker: the ops stay
  // as the test leaves them.
  dir = mkdtempSync(join(tmpdir(), 'kvq-dlq-list-'));
  queue = await startRedisServer({ dir, appendonly: false, noeviction: true });
  s = await startStack({ worker: false, queueUrl: queue.url });
  ledger = createLedger({
    redis: s.queueRedis,
    layout: s.layout,
    retentionMs: 3_600_000,
    retentionCount: 100_000,
  });
  // Entries buried here under ids that name no partition are filed in partition 0.
  k = s.layout.queue(0);
});
afterAll(async () => {
  await s.stop();
  await queue.stop();
  rmSync(dir, { recursive: true, force: true });
});

const error = { code: 'DATA_UNAVAILABLE', message: 'data Redis: connect ECONNREFUSED' };

/** Dead-letters ops with no receipt through finish.lua (the summary then comes from the job). */
async function bury(ids: string[], key: (i: number) => string, value = '"v"'): Promise<void> {
  for (const [i, opId] of ids.entries()) {
    await ledger.finish({
      opId,
      key: key(i),
      status: 'dead',
      attempts: 3,
      error,
      deadLetter: { opId, key: key(i), type: 'put', version: i + 1, acceptedAt: 1_000 + i, value },
    });
  }
}

/** Every page of the listing, `limit` at a time; `between` runs after each page. */
async function walk(limit: number, between?: (page: number) => Promise<void>) {
  const seen: { id: string; failedAt: string }[] = [];
  let cursor: string | null = null;
  let page = 0;
  do {
    const q: string = cursor ? `&cursor=${encodeURIComponent(cursor)}` : '';
    const r = await call(s.url, 'GET', `/v1/dlq?limit=${String(limit)}${q}`);
    expect(r.status).toBe(200);
    expect(r.body.items.length).toBeLessThanOrEqual(limit);
    seen.push(...(r.body.items as { id: string; failedAt: string }[]));
    cursor = r.body.nextCursor as string | null;
    await between?.(++page);
  } while (cursor);
  return seen;
}

async function clear(redis: Redis): Promise<void> {
  for (let i = 0; i < s.layout.count; i++) {
    const q = s.layout.queue(i);
    const ids = await redis.zrange(q.deadLetters, '0', '-1');
    for (const id of ids) await redis.del(q.deadLetter(id));
    await redis.del(q.deadLetters);
  }
}

/** Redis' member order within one score, which the listing follows (descending). */
const byteDesc = (a: string, b: string) => Buffer.compare(Buffer.from(b), Buffer.from(a));

describe('dead-letter entries', () => {
  it('use the receipt field names and ISO times', async () => {
    await clear(s.queueRedis);
    const w = await call(s.url, 'PUT', '/v1/keys/dlq-names/a', { body: { value: { n: 1 } } });
    expect(w.status).toBe(202);
    const id = w.body.op.id as string;
    // As the worker records a job sent with its acceptance: no version or time in the payload.
    await ledger.finish({
      opId: id,
      key: 'dlq-names/a',
      status: 'dead',
      attempts: 2,
      error,
      deadLetter: { opId: id, key: 'dlq-names/a', type: 'put', value: '{"n":1}' },
    });
    const receipt = (await call(s.url, 'GET', `/v1/ops/${id}`)).body.op;
    expect(receipt.status).toBe('dead');

    const listed = (await call(s.url, 'GET', '/v1/dlq')).body.items;
    expect(listed).toHaveLength(1);
    const item = listed[0];
    expect(Object.keys(item).sort()).toEqual(
      ['id', 'key', 'type', 'version', 'attempts', 'acceptedAt', 'failedAt', 'error'].sort(),
    );
    expect(item).toEqual({
      id: receipt.id,
      key: receipt.key,
      type: receipt.type,
      version: receipt.version,
      attempts: receipt.attempts,
      acceptedAt: receipt.acceptedAt,
      failedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      error: receipt.error,
    });
    expect(new Date(item.failedAt).toISOString()).toBe(item.failedAt);
    expect(Date.parse(item.failedAt)).toBeGreaterThanOrEqual(Date.parse(item.acceptedAt));

    // One entry: the same summary, plus the op with its value.
    const one = await call(s.url, 'GET', `/v1/dlq/${id}`);
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({ ...item, op: { key: 'dlq-names/a', value: { n: 1 } } });
    expect(one.body).not.toHaveProperty('opId');
  });
});

describe('listing dead letters', () => {
  it('pages through every entry exactly once, ties on the failure time included', async () => {
    await clear(s.queueRedis);
    // Ids whose byte order differs from a locale's collation (case, punctuation).
    const ids = Array.from(
      { length: 120 },
      (_, i) => [`Op-${String(i)}`, `op_${String(i)}`, `o-p${String(i)}`, `OP${String(i)}`][i % 4]!,
    );
    await bury(ids, (i) => `page/${String(i)}`);
    // Three failure times shared by many entries each.
    for (const [i, id] of ids.entries()) {
      await s.queueRedis.zadd(k.deadLetters, 'XX', 1_000 + (i % 3), id);
    }
    const expected = [...ids].sort((a, b) => {
      const d = (ids.indexOf(b) % 3) - (ids.indexOf(a) % 3);
      return d !== 0 ? d : byteDesc(a, b);
    });

    for (const limit of [1, 7, 40, 119, 120, 1000]) {
      const seen = await walk(limit);
      expect(seen.map((e) => e.id)).toEqual(expected);
    }
  });

  it('skips nothing when entries are removed or added between pages', async () => {
    await clear(s.queueRedis);
    const ids = Array.from({ length: 60 }, (_, i) => `mv-${String(i).padStart(2, '0')}`);
    await bury(ids, (i) => `move/${String(i)}`);
    for (const id of ids) await s.queueRedis.zadd(k.deadLetters, 'XX', 5_000, id);
    const removed: string[] = [];
    const seen = await walk(10, async (page) => {
      if (page !== 1) return;
      // Discard the entry the cursor points at and one further on; new failures arrive.
      for (const id of ['mv-50', 'mv-20']) {
        expect((await call(s.url, 'DELETE', `/v1/dlq/${id}`)).status).toBe(204);
        removed.push(id);
      }
      await bury(['mv-new-1', 'mv-new-2'], () => 'move/new');
    });
    const stayed = ids.filter((id) => !removed.includes(id));
    const got = seen.map((e) => e.id);
    expect(new Set(got).size).toBe(got.length);
    for (const id of stayed) expect(got).toContain(id);
    expect(got).not.toContain('mv-20');
  });

  it('reads summaries, never the values', async () => {
    await clear(s.queueRedis);
    const big = JSON.stringify('x'.repeat(256 * 1024));
    await bury(['big-1', 'big-2', 'big-3'], (i) => `big/${String(i)}`, big);
    // An entry whose payload is gone still lists with its summary.
    await s.queueRedis.hdel(k.deadLetter('big-2'), 'payload');

    const monitor = await s.queueRedis.monitor();
    const commands: string[][] = [];
    monitor.on('monitor', (_time: string, args: string[]) => commands.push(args));
    try {
      const r = await call(s.url, 'GET', '/v1/dlq?limit=10');
      expect(r.status).toBe(200);
      expect(r.text.length).toBeLessThan(5_000);
      expect(r.body.items.map((e: { id: string }) => e.id).sort()).toEqual([
        'big-1',
        'big-2',
        'big-3',
      ]);
      expect(r.body.items.find((e: { id: string }) => e.id === 'big-2')).toMatchObject({
        key: 'big/1',
        type: 'put',
        version: 2,
        attempts: 3,
        acceptedAt: new Date(1_001).toISOString(),
        error,
      });
      const reads = await eventually(() => {
        const on = commands.filter((c) => c.some((a) => a.startsWith(k.deadLetter(''))));
        return on.length >= 3 ? on : undefined;
      });
      expect(reads?.length).toBeGreaterThanOrEqual(3);
      for (const c of reads ?? []) {
        expect(c[0]?.toLowerCase()).not.toMatch(/^(hgetall|hvals|dump)$/);
        expect(c.map((a) => a.toLowerCase())).not.toContain('payload');
      }
    } finally {
      monitor.disconnect();
    }
  });

  it('answers 503 when one entry cannot be read, not a page without it', async () => {
    await clear(s.queueRedis);
    const ids = ['rf-a', 'rf-b', 'rf-c', 'rf-d', 'rf-e'];
    await bury(ids, (i) => `rowfail/${String(i)}`);
    for (const [i, id] of ids.entries())
      await s.queueRedis.zadd(k.deadLetters, 'XX', 9_000 - i, id);
    // rf-c's entry becomes a string: reading its fields is a Redis error for that row alone.
    await s.queueRedis.del(k.deadLetter('rf-c'));
    await s.queueRedis.set(k.deadLetter('rf-c'), 'not a hash');
    await expect(s.queueRedis.hmget(k.deadLetter('rf-c'), 'key')).rejects.toThrow(/WRONGTYPE/);

    // The page before it is whole.
    const first = await call(s.url, 'GET', '/v1/dlq?limit=2');
    expect(first.status).toBe(200);
    expect(first.body.items).toHaveLength(2);

    for (const path of [
      '/v1/dlq',
      `/v1/dlq?limit=2&cursor=${encodeURIComponent(first.body.nextCursor as string)}`,
    ]) {
      const r = await call(s.url, 'GET', path);
      expect(r.status).toBe(503);
      expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(r.headers.get('retry-after')).toBeTruthy();
      expect(r.body.code).toBe('QUEUE_UNAVAILABLE');
    }

    // Retry-all reads the same pages: it stops with a 503 too, having replayed nothing.
    await s.queueRedis.zadd(k.deadLetters, 'XX', 99_000, 'rf-c');
    const all = await call(s.url, 'POST', '/v1/dlq/retry');
    expect(all.status).toBe(503);
    expect(all.body.code).toBe('QUEUE_UNAVAILABLE');
    expect(all.headers.get('retry-after')).toBeTruthy();
    expect(await s.queueRedis.zcard(k.deadLetters)).toBe(5);
  });

  it('refuses a cursor it did not issue', async () => {
    const r = await call(s.url, 'GET', '/v1/dlq?cursor=nonsense');
    expect(r.status).toBe(400);
    expect(r.body.code).toBe('VALIDATION_FAILED');
  });
});

describe('retry-all', () => {
  it('pages through the entries, replaying each one under the prefix once', async () => {
    await clear(s.queueRedis);
    const a = Array.from({ length: 150 }, (_, i) => `ra-${String(i)}`);
    const b = Array.from({ length: 80 }, (_, i) => `rb-${String(i)}`);
    await bury(a, (i) => `retry-a/${String(i)}`);
    await bury(b, (i) => `retry-b/${String(i)}`);
    // Interleaved failure times, all one millisecond apart at most.
    for (const [i, id] of [...a, ...b].entries()) {
      await s.queueRedis.zadd(k.deadLetters, 'XX', 7_000 + (i % 2), id);
    }
    const r = await call(s.url, 'POST', '/v1/dlq/retry?prefix=retry-a/');
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ retried: 150, skipped: 0 });
    const left = (await walk(1000)).map((e) => e.id).sort();
    expect(left).toEqual([...b].sort());
  });
});
