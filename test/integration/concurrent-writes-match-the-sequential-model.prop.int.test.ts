import type { ChildProcess } from 'node:child_process';

import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';

import { History, requestFor, type Shape, SHAPES, writeOfShape } from '../../chaos/history.ts';
import type { FinalRead } from '../../chaos/model.ts';
import { ReadOrderChecker } from '../../chaos/read-order.ts';
import { JOB_NAME, type JobPayload } from '../../src/core/index.ts';
import { output, spawnRole, stopChild } from '../helpers/processes.ts';
import { call, eventually, partitionQueues, type Stack, startStack } from '../helpers/stack.ts';

/**
 * The central guarantee, checked against the sequential model (chaos/model.ts): with several
 * worker processes at high concurrency, conditional and blind writes, creates and deletes from
 * many clients at once, duplicated job deliveries and workers SIGKILLed mid-run, every outcome
 * kvq reports and every key's final record are what applying each key's accepted writes one at a
 * time in version order gives. Readers meanwhile never see a key's version go down.
 */

const KEYS = 24;
const OPS = Number(process.env.KVQ_PROP_OPS ?? 10_000);
const WORKERS = 3;
const CONCURRENCY = 32;
const CLIENTS = 48;

let s: Stack;
const workers: ChildProcess[] = [];
const logs: (() => string)[] = [];
const workerEnv = () => ({
  QUEUE_REDIS_URL: s.queueUrl,
  KV_REDIS_URL: s.kvUrl,
  KEY_PREFIX: s.config.KEY_PREFIX,
  QUEUE_NAME: s.config.QUEUE_NAME,
  WORKER_CONCURRENCY: String(CONCURRENCY),
  // A killed worker's jobs come back after about lock + interval.
  WORKER_LOCK_MS: '2000',
  WORKER_STALLED_INTERVAL_MS: '1000',
});
function spawnWorker() {
  const w = spawnRole('worker', workerEnv());
  workers.push(w);
  logs.push(output(w));
  return w;
}

beforeAll(async () => {
  s = await startStack({ worker: false, env: { KEY_BUSY_WAIT_MS: '3000' } });
  for (let i = 0; i < WORKERS; i++) spawnWorker();
});

afterAll(async () => {
  await Promise.all(workers.map((w) => stopChild(w)));
  await s.stop();
});

interface Op {
  key: number;
  shape: Shape;
  /** For If-Match "N": how far from the last version this client saw (0 = the same). */
  skew: number;
  ttl: boolean;
  dup: boolean;
}

const opArb: fc.Arbitrary<Op> = fc.record({
  key: fc.integer({ min: 0, max: KEYS - 1 }),
  shape: fc.oneof(...SHAPES.map(([s, weight]) => ({ weight, arbitrary: fc.constant(s) }))),
  skew: fc.oneof({ weight: 4, arbitrary: fc.constant(0) }, fc.integer({ min: -2, max: 2 })),
  ttl: fc.integer({ min: 0, max: 19 }).map((n) => n === 0),
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

it(`${String(WORKERS)} worker processes × ${String(CONCURRENCY)}, ${String(KEYS)} keys, ${String(OPS)} writes (half conditional) with duplicates and worker SIGKILLs: every outcome matches the sequential model`, async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(opArb, { minLength: OPS, maxLength: OPS }), async (ops) => {
      const run = Math.random().toString(36).slice(2, 8);
      const keyName = (k: number) => `prop/${run}/${String(k)}`;
      const queues = partitionQueues(s.layout, s.queueUrl);
      const history = new History();
      /** The last version a client saw per key: what an If-Match is built from. */
      const seen = new Map<string, number>();
      let duplicates = 0;
      let kills = 0;

      // Readers: no read may return a lower version than a read that completed before it began.
      let reading = true;
      const readOrder = new ReadOrderChecker();
      const regressions: string[] = [];
      let reads = 0;
      const readers = Array.from({ length: 3 }, async () => {
        while (reading) {
          const key = keyName(Math.floor(Math.random() * KEYS));
          const startedAt = performance.now();
          const r = await call(s.url, 'GET', `/v1/keys/${encodeURIComponent(key)}`);
          reads++;
          if (r.status !== 200) continue;
          seen.set(key, Math.max(seen.get(key) ?? 0, r.body.version as number));
          const floor = readOrder.record(key, startedAt, performance.now(), r.body.version);
          if (floor !== null)
            regressions.push(`${key}: ${String(floor)} -> ${String(r.body.version)}`);
        }
      });

      await pool(ops, CLIENTS, async (op, i) => {
        if (i === Math.floor(OPS / 3) || i === Math.floor((2 * OPS) / 3)) {
          // SIGKILL a worker mid-run and start a replacement: its jobs are redelivered.
          const victim = workers.find((w) => w.exitCode === null && w.signalCode === null);
          victim?.kill('SIGKILL');
          spawnWorker();
          kills++;
        }
        const key = keyName(op.key);
        const last = seen.get(key) ?? 0;
        const ttl = op.ttl && !op.shape.startsWith('delete') ? 1 + (i % 3) : undefined;
        const w = writeOfShape(op.shape, key, String(i), last + op.skew, ttl);
        const req = requestFor(w);
        const r = await call(s.url, req.method, req.path, {
          headers: req.headers,
          ...(req.body !== undefined ? { rawBody: req.body } : {}),
        });
        const accepted = history.record(w, r.status, r.body);
        if (accepted === null || accepted === 'early') {
          if (accepted === 'early' && typeof r.body.currentVersion === 'number')
            seen.set(key, Math.max(last, r.body.currentVersion as number));
          return;
        }
        seen.set(key, Math.max(seen.get(key) ?? 0, accepted.version));
        if (op.dup) {
          // A second delivery of the same op, as after a stall or a crash.
          duplicates++;
          const payload: JobPayload = {
            opId: accepted.id,
            key,
            type: w.kind,
            version: accepted.version,
            acceptedAt: Date.parse(r.body.op.acceptedAt),
            ...(w.valueJson !== undefined ? { value: w.valueJson } : {}),
            ...(w.ttlSeconds !== undefined ? { ttlMs: w.ttlSeconds * 1000 } : {}),
          };
          await queues.of(key).add(JOB_NAME, payload, {
            jobId: `${accepted.id}-dup`,
            removeOnComplete: true,
          });
        }
      });

      // Drain: every accepted op terminal.
      const opIds = [...history.ops.keys()];
      const drained = await eventually(
        async () => {
          return (await queues.count('waiting', 'active', 'delayed', 'prioritized')) === 0;
        },
        90_000,
        200,
      );
      reading = false;
      await Promise.all(readers);
      await queues.close();
      expect(drained, logs.map((l) => l()).join('\n')).toBe(true);

      await history.collectReceipts((id) => call(s.url, 'GET', `/v1/ops/${id}`));
      const [sec, micro] = await s.kvRedis.time();
      const at = Number(sec) * 1000 + Math.floor(Number(micro) / 1000);
      const finals: FinalRead[] = [];
      for (let k = 0; k < KEYS; k++) {
        const key = keyName(k);
        const g = await call(s.url, 'GET', `/v1/keys/${encodeURIComponent(key)}`);
        finals.push(
          g.status === 200
            ? {
                key,
                status: 200,
                version: g.body.version,
                valueJson: JSON.stringify(g.body.value),
                at,
              }
            : { key, status: 404, at },
        );
      }
      const { violations, stats } = history.check(finals);
      if (process.env.KVQ_DUMP_HISTORY) {
        const { writeFileSync } = await import('node:fs');
        writeFileSync(
          process.env.KVQ_DUMP_HISTORY,
          JSON.stringify({
            ops: [...history.ops.values()],
            early: history.early,
            finals,
            violations,
          }),
        );
      }
      const conditional = [...history.ops.values()].filter(
        (o) => o.cond || o.kind !== 'put',
      ).length;
      console.log(
        `model run: ${String(opIds.length)} accepted (${String(conditional)} conditional), ` +
          `${String(history.early.length)} early 4xx, other ${JSON.stringify([...history.other])}, ` +
          `${String(duplicates)} duplicated, ${String(kills)} worker SIGKILLs, ${String(reads)} reads, ` +
          `stats ${JSON.stringify(stats)}`,
      );
      expect(violations.slice(0, 20)).toEqual([]);
      expect(regressions).toEqual([]);
      // The run exercised what it claims to (counts, not rates).
      expect(conditional + history.early.length).toBeGreaterThan(OPS * 0.3);
      expect(duplicates).toBeGreaterThan(0);
      expect(kills).toBe(2);
    }),
    { numRuns: 1, endOnFailure: true },
  );
}, 240_000);
