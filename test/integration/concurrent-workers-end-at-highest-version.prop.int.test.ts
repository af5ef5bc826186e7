import type { ChildProcess } from 'node:child_process';

import { Queue } from 'bullmq';
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';

import { ReadOrderChecker } from '../../chaos/read-order.ts';
import { JOB_NAME, type JobPayload } from '../../src/core/index.ts';
import { output, spawnRole, stopChild } from '../helpers/processes.ts';
import { call, eventually, type Stack, startStack } from '../helpers/stack.ts';

/**
 * The central guarantee under at-least-once delivery: with several worker processes at high
 * concurrency, duplicated jobs and concurrent readers, every key ends at its highest accepted
 * version, and no reader ever sees a key's version go down.
 */

const KEYS = 24;
const OPS = 5200;
const WORKERS = 2;
const CONCURRENCY = 32;

let s: Stack;
const workers: ChildProcess[] = [];
const logs: (() => string)[] = [];

beforeAll(async () => {
  s = await startStack({ worker: false });
  for (let i = 0; i < WORKERS; i++) {
    const w = spawnRole('worker', {
      QUEUE_REDIS_URL: s.queueUrl,
      KV_REDIS_URL: s.kvUrl,
      KEY_PREFIX: s.config.KEY_PREFIX,
      QUEUE_NAME: s.config.QUEUE_NAME,
      WORKER_CONCURRENCY: String(CONCURRENCY),
    });
    workers.push(w);
    logs.push(output(w));
  }
});

afterAll(async () => {
  await Promise.all(workers.map((w) => stopChild(w)));
  await s.stop();
});

interface Op {
  key: number;
  type: 'put' | 'delete';
  dup: boolean;
}

const opArb: fc.Arbitrary<Op> = fc.record({
  key: fc.integer({ min: 0, max: KEYS - 1 }),
  type: fc.oneof(
    { weight: 4, arbitrary: fc.constant('put' as const) },
    { weight: 1, arbitrary: fc.constant('delete' as const) },
  ),
  dup: fc.integer({ min: 0, max: 9 }).map((n) => n === 0),
});

async function pool<T>(items: T[], n: number, fn: (t: T, i: number) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < items.length) {
        const i = next++;
        await fn(items[i]!, i);
      }
    }),
  );
}

it(`${String(WORKERS)} worker processes × ${String(CONCURRENCY)}, ${String(KEYS)} keys, ${String(OPS)} writes with duplicates: each key ends at its highest accepted version`, async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(opArb, { minLength: OPS, maxLength: OPS }), async (ops) => {
      const run = Math.random().toString(36).slice(2, 8);
      const keyName = (k: number) => `prop/${run}/${String(k)}`;
      const queue = new Queue<JobPayload>(s.config.QUEUE_NAME, { connection: { url: s.queueUrl } });
      const highest = new Map<string, { version: number; type: string; value: number | null }>();
      const opIds: string[] = [];
      let duplicates = 0;

      // Readers: poll every key while writes flow; no read may return a lower version than a
      // read that completed before it started (overlapping reads may finish in either order).
      let reading = true;
      const readOrder = new ReadOrderChecker();
      const regressions: string[] = [];
      let reads = 0;
      const readers = Array.from({ length: 4 }, async () => {
        while (reading) {
          const key = keyName(Math.floor(Math.random() * KEYS));
          const startedAt = performance.now();
          const r = await call(s.url, 'GET', `/v1/keys/${key}`);
          reads++;
          if (r.status !== 200) continue;
          const floor = readOrder.record(key, startedAt, performance.now(), r.body.version);
          if (floor !== null)
            regressions.push(`${key}: ${String(floor)} -> ${String(r.body.version)}`);
        }
      });

      await pool(ops, 48, async (op, i) => {
        const key = keyName(op.key);
        const r =
          op.type === 'put'
            ? await call(s.url, 'PUT', `/v1/keys/${key}`, { body: { value: i } })
            : await call(s.url, 'DELETE', `/v1/keys/${key}`);
        if (r.status === 404) return; // delete of an absent key with nothing pending: not accepted
        expect(r.status).toBe(202);
        const receipt = r.body.op;
        opIds.push(receipt.id);
        const h = highest.get(key);
        if (!h || receipt.version > h.version) {
          highest.set(key, {
            version: receipt.version,
            type: op.type,
            value: op.type === 'put' ? i : null,
          });
        }
        if (op.dup) {
          // A second delivery of the same op, as after a stall or a crash.
          duplicates++;
          const payload: JobPayload = {
            opId: receipt.id,
            key,
            type: op.type,
            version: receipt.version,
            acceptedAt: Date.parse(receipt.acceptedAt),
            ...(op.type === 'put' ? { value: JSON.stringify(i) } : {}),
          };
          await queue.add(JOB_NAME, payload, {
            jobId: `${receipt.id}-dup`,
            removeOnComplete: true,
          });
        }
      });

      // Drain: every receipt terminal and the queue empty.
      const drained = await eventually(
        async () => {
          const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
          return Object.values(counts).every((n) => n === 0);
        },
        60_000,
        100,
      );
      reading = false;
      await Promise.all(readers);
      await queue.close();
      expect(drained, logs.map((l) => l()).join('\n')).toBe(true);

      const statuses: Record<string, number> = {};
      for (const id of opIds) {
        const r = await call(s.url, 'GET', `/v1/ops/${id}`);
        statuses[r.body.op.status] = (statuses[r.body.op.status] ?? 0) + 1;
      }
      expect((statuses.applied ?? 0) + (statuses.superseded ?? 0)).toBe(opIds.length);

      for (const [key, h] of highest) {
        const g = await call(s.url, 'GET', `/v1/keys/${key}`);
        if (h.type === 'delete') {
          expect(g.status, `${key} should be deleted at v${String(h.version)}`).toBe(404);
        } else {
          expect(g.status, key).toBe(200);
          expect({ key, version: g.body.version, value: g.body.value }).toEqual({
            key,
            version: h.version,
            value: h.value,
          });
        }
      }
      expect(regressions).toEqual([]);
      expect(opIds.length).toBeGreaterThan(OPS * 0.9);
      expect(duplicates).toBeGreaterThan(0);
      expect(reads).toBeGreaterThan(100);
      console.log(
        `property run: ${String(opIds.length)} accepted, ${String(duplicates)} duplicated, ` +
          `${String(reads)} reads, statuses ${JSON.stringify(statuses)}`,
      );
    }),
    { numRuns: 1, endOnFailure: true },
  );
}, 120_000);
