import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startApi } from '../../src/bin/api.ts';
import { startWorker } from '../../src/bin/worker.ts';
import { createLifecycle, createLogger, loadConfig } from '../../src/core/index.ts';
import { EVENT_STREAM_MAX_LEN } from '../../src/queue/index.ts';
import { startRedisServer } from '../../src/redis/index.ts';
import { PartitionCountMismatch } from '../../src/store/index.ts';
import { call, type Stack, startStack } from '../helpers/stack.ts';

/**
 * What partitioning must not change: listing returns every live key once in byte order across
 * the partitions' indexes, dead letters page newest first across partitions, an Idempotency-Key
 * reused with a key of another partition is still detected, and a process configured with
 * another partition count than the data was written with refuses to start.
 */
let s: Stack;
beforeAll(async () => {
  s = await startStack();
});
afterAll(async () => {
  await s.stop();
});

describe('listing', () => {
  it('pages every live key exactly once, in byte order, whatever partition holds it', async () => {
    const keys = Array.from(
      { length: 61 },
      (_, i) => `ls/${String(i).padStart(2, '0')}-${'ü'.repeat(i % 3)}`,
    );
    keys.push('ls/é', 'ls/Z', 'ls/a/b', 'ls/~');
    // Writes waited on, so that every key is live before listing.
    await Promise.all(
      keys.map((k) =>
        call(s.url, 'PUT', `/v1/keys/${encodeURIComponent(k)}`, {
          body: { value: k },
          headers: { Prefer: 'wait=10' },
        }),
      ),
    );
    const partitions = new Set(keys.map((k) => s.layout.of(k)));
    expect(partitions.size).toBeGreaterThan(6);
    for (const limit of [1, 7, 100]) {
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const q: string = cursor ? `&cursor=${encodeURIComponent(cursor)}` : '';
        const r = await call(s.url, 'GET', `/v1/keys?prefix=ls/&limit=${String(limit)}${q}`);
        expect(r.status).toBe(200);
        expect(r.body.items.length).toBeLessThanOrEqual(limit);
        seen.push(...(r.body.items as { key: string }[]).map((i) => i.key));
        cursor = r.body.nextCursor as string | null;
      } while (cursor);
      const sorted = [...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
      expect(seen).toEqual(sorted);
    }
  });
});

describe("each partition's BullMQ event stream", () => {
  it('stays short: kvq reads none of it, and P long streams would fill the queue Redis', async () => {
    const keys: string[] = [];
    for (let n = 0; keys.length < 300; n++) {
      if (s.layout.of(`ev/${String(n)}`) === 0) keys.push(`ev/${String(n)}`);
    }
    for (let i = 0; i < keys.length; i += 50) {
      await Promise.all(
        keys.slice(i, i + 50).map((k) =>
          call(s.url, 'PUT', `/v1/keys/${k}`, {
            body: { value: 1 },
            headers: { Prefer: 'wait=10' },
          }),
        ),
      );
    }
    const events = `bull:${s.layout.queueName(0)}:events`;
    const meta = `bull:${s.layout.queueName(0)}:meta`;
    expect(await s.queueRedis.hget(meta, 'opts.maxLenEvents')).toBe(String(EVENT_STREAM_MAX_LEN));
    // 300 jobs add several events each; trimming is approximate (whole stream nodes).
    const length = await s.queueRedis.xlen(events);
    expect(length).toBeGreaterThan(0);
    expect(length).toBeLessThanOrEqual(3 * EVENT_STREAM_MAX_LEN);
  });
});

describe('Idempotency-Key', () => {
  /** Keys in three different partitions, none of them the Idempotency-Key's. */
  function spread(ik: string): [string, string] {
    const home = s.layout.of(ik);
    const picked: string[] = [];
    for (let n = 0; picked.length < 2; n++) {
      const k = `idem-x/${String(n)}`;
      const p = s.layout.of(k);
      if (p !== home && !picked.some((o) => s.layout.of(o) === p)) picked.push(k);
    }
    return [picked[0]!, picked[1]!];
  }

  it.each([
    ['in no partition of its keys', 'ik-home-elsewhere'],
    ['in the partition of its first key', ''],
  ])('reused for a key of another partition is refused (the key %s)', async (_what, given) => {
    let ik = given;
    let [k1, k2] = spread('seed');
    if (!ik) {
      // An Idempotency-Key whose own partition is k1's.
      for (let n = 0; ; n++) {
        ik = `ik-same-${String(n)}`;
        if (s.layout.of(ik) === s.layout.of(k1) && s.layout.of(ik) !== s.layout.of(k2)) break;
      }
    } else {
      [k1, k2] = spread(ik);
    }
    const headers = { 'Idempotency-Key': ik };
    const first = await call(s.url, 'PUT', `/v1/keys/${k1}`, { body: { value: 1 }, headers });
    expect(first.status).toBe(202);
    const reuse = await call(s.url, 'PUT', `/v1/keys/${k2}`, { body: { value: 1 }, headers });
    expect(reuse.status).toBe(422);
    expect(reuse.body.code).toBe('IDEMPOTENCY_KEY_REUSED');
    expect(reuse.body.detail).toContain(first.body.op.id);
    // A conditional write is refused the same way, before anything is decided.
    const cond = await call(s.url, 'PUT', `/v1/keys/${k2}`, {
      body: { value: 1 },
      headers: { ...headers, 'If-None-Match': '*' },
    });
    expect(cond.body.code).toBe('IDEMPOTENCY_KEY_REUSED');
    const repeat = await call(s.url, 'PUT', `/v1/keys/${k1}`, {
      body: { value: 1 },
      headers: { ...headers, Prefer: 'wait=10' },
    });
    expect(repeat.body.op.id).toBe(first.body.op.id);
    expect((await call(s.url, 'GET', `/v1/keys/${k2}`)).status).toBe(404);
  });

  it('first used with a key of another partition, then with a key of its own, is refused too', async () => {
    const ik = 'ik-own-second';
    const [other] = spread(ik);
    let own = '';
    for (let n = 0; !own; n++)
      if (s.layout.of(`own/${String(n)}`) === s.layout.of(ik)) own = `own/${String(n)}`;
    const headers = { 'Idempotency-Key': ik };
    expect(
      (await call(s.url, 'PUT', `/v1/keys/${other}`, { body: { value: 2 }, headers })).status,
    ).toBe(202);
    const reuse = await call(s.url, 'PUT', `/v1/keys/${own}`, { body: { value: 2 }, headers });
    expect(reuse.body.code).toBe('IDEMPOTENCY_KEY_REUSED');
  });
});

describe('Idempotency-Key after a write that created nothing', () => {
  it('a failed condition leaves the Idempotency-Key free for another request', async () => {
    const headers = { 'Idempotency-Key': 'ik-after-412' };
    const failed = await call(s.url, 'PUT', '/v1/keys/ik412/a', {
      body: { value: 1 },
      headers: { ...headers, 'If-Match': '"7"' },
    });
    expect(failed.status).toBe(412);
    // Keys of several partitions: the mark must not have been left anywhere.
    for (const k of ['ik412/b', 'ik412/c', 'ik412/d']) {
      const other = await call(s.url, 'PUT', `/v1/keys/${k}`, { body: { value: 2 }, headers });
      if (k === 'ik412/b') expect(other.status).toBe(202);
      else expect(other.body.code).toBe('IDEMPOTENCY_KEY_REUSED');
    }
  });
});

describe('dead letters', () => {
  it('page newest first across partitions, every entry once', async () => {
    const p = await startStack({ worker: false });
    try {
      const { createLedger } = await import('../../src/store/index.ts');
      const ledger = createLedger({
        redis: p.queueRedis,
        layout: p.layout,
        retentionMs: 60_000,
        retentionCount: 1000,
      });
      const ids: string[] = [];
      for (let i = 0; i < 30; i++) {
        const key = `dl/${String(i)}`;
        const opId = p.layout.newOpId(key);
        ids.push(opId);
        await ledger.finish({
          opId,
          key,
          status: 'dead',
          attempts: 1,
          error: { code: 'X', message: 'x' },
          deadLetter: { opId, key, type: 'put', version: 1, acceptedAt: 1, value: '1' },
        });
        // Some share a failure time: ties are broken by op id.
        if (i % 3 !== 0) await new Promise((r) => setTimeout(r, 2));
      }
      expect(new Set(ids.map((id) => p.layout.ofOp(id))).size).toBeGreaterThan(6);
      const seen: { id: string; failedAt: string }[] = [];
      let cursor: string | null = null;
      do {
        const q: string = cursor ? `&cursor=${encodeURIComponent(cursor)}` : '';
        const r = await call(p.url, 'GET', `/v1/dlq?limit=4${q}`);
        expect(r.status).toBe(200);
        seen.push(...(r.body.items as { id: string; failedAt: string }[]));
        cursor = r.body.nextCursor as string | null;
      } while (cursor);
      expect(seen.map((e) => e.id).sort()).toEqual([...ids].sort());
      for (let i = 1; i < seen.length; i++) {
        const a = seen[i - 1]!;
        const b = seen[i]!;
        const order =
          Date.parse(a.failedAt) - Date.parse(b.failedAt) ||
          Buffer.compare(Buffer.from(a.id), Buffer.from(b.id));
        expect(order).toBeGreaterThan(0);
      }
      expect((await call(p.url, 'GET', `/v1/dlq/${ids[5]!}`)).body.key).toBe('dl/5');
    } finally {
      await p.stop();
    }
  });
});

describe('the partition count', () => {
  it('is recorded in both Redis; a process configured with another one refuses to start', async () => {
    const config = loadConfig({
      ...Object.fromEntries(Object.entries(s.config).map(([k, v]) => [k, String(v)])),
      API_TOKENS: '',
      PARTITIONS: '4',
    });
    const q = new Redis(s.queueUrl);
    const d = new Redis(s.kvUrl);
    try {
      expect(await q.get(s.layout.global.partitions)).toBe('12');
      expect(await d.get(s.layout.global.partitions)).toBe('12');
    } finally {
      q.disconnect();
      d.disconnect();
    }
    const logger = createLogger('silent', 'test');
    for (const start of [startApi, startWorker]) {
      const lifecycle = createLifecycle({ deadlineMs: 5000, logger });
      try {
        await expect(
          start(config, { queueUrl: s.queueUrl, kvUrl: s.kvUrl }, logger, lifecycle),
        ).rejects.toBeInstanceOf(PartitionCountMismatch);
      } finally {
        await lifecycle.shutdown('test');
      }
    }
  });
});

describe('the partition count check, with a Redis that refuses writes', () => {
  it('does not stop a process starting (a restart during a failover); an unrecorded count is recorded once writes are taken', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kvq-noreplicas-'));
    const [queue, data] = await Promise.all([
      startRedisServer({ dir: join(dir, 'q'), appendonly: false }),
      startRedisServer({ dir: join(dir, 'd'), appendonly: false }),
    ]);
    const q = new Redis(queue.url);
    const d = new Redis(data.url);
    const logger = createLogger('silent', 'test');
    const lifecycles: ReturnType<typeof createLifecycle>[] = [];
    try {
      // The queue Redis has its count already (an established deployment), the data Redis not
      // yet; then both primaries lose their replicas: every write is refused with NOREPLICAS.
      await q.set(s.layout.global.partitions, '12');
      for (const r of [q, d]) await r.config('SET', 'min-replicas-to-write', '1');
      await expect(d.set('probe', '1')).rejects.toThrow(/NOREPLICAS/);
      const config = loadConfig({
        ...Object.fromEntries(Object.entries(s.config).map(([k, v]) => [k, String(v)])),
        API_TOKENS: '',
        PORT: '0',
        WORKER_HEALTH_PORT: '0',
        METRICS_PORT: '0',
      });
      for (const start of [startApi, startWorker]) {
        const lifecycle = createLifecycle({ deadlineMs: 5000, logger });
        lifecycles.push(lifecycle);
        await start(config, { queueUrl: queue.url, kvUrl: data.url }, logger, lifecycle);
      }
      expect(await d.get(s.layout.global.partitions)).toBeNull();
      await d.config('SET', 'min-replicas-to-write', '0');
      await expect.poll(() => d.get(s.layout.global.partitions), { timeout: 10_000 }).toBe('12');
    } finally {
      for (const l of lifecycles) await l.shutdown('test');
      q.disconnect();
      d.disconnect();
      await Promise.all([queue.stop(), data.stop()]);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
