import { Queue } from 'bullmq';

import { type KeyLayout, loadConfig } from '../src/core/index.ts';
import { closeClient, createRedisClient, type RedisClient } from '../src/redis/index.ts';
import type { Cluster } from './cluster.ts';
import type { FinalRead } from './model.ts';

/** The end of a chaos run: waiting for the ops to finish, and reading what kvq says now. */

const TERMINAL = new Set(['applied', 'superseded', 'failed', 'dead']);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Waits until every op's receipt (read straight from the queue Redis, in the partition its id
 * names) is terminal, or `ms`. Returns the ids still not terminal then.
 */
export async function drain(
  cluster: Cluster,
  layout: KeyLayout,
  ids: string[],
  ms: number,
): Promise<string[]> {
  const redis = harnessClient(cluster.queue.url);
  const deadline = Date.now() + ms;
  try {
    let pending = ids;
    while (pending.length > 0 && Date.now() < deadline) {
      const left: string[] = [];
      for (let i = 0; i < pending.length; i += 1000) {
        const batch = pending.slice(i, i + 1000);
        // One command each (receipts of several partitions may sit on several nodes).
        const rows = await Promise.all(
          batch.map((id) => redis.hget(receiptKey(layout, id), 'status').catch(() => null)),
        );
        batch.forEach((id, j) => {
          const st = rows[j];
          if (typeof st !== 'string' || !TERMINAL.has(st)) left.push(id);
        });
      }
      pending = left;
      if (pending.length > 0) await sleep(500);
    }
    return pending;
  } finally {
    await closeClient(redis);
  }
}

/**
 * Where ops that did not drain are stuck, per partition (at most `max`): the partition's BullMQ
 * job counts and workers, and the first such op's receipt and job state. For the report of a run
 * whose drain timed out.
 */
export async function describeStuck(
  cluster: Cluster,
  layout: KeyLayout,
  ids: string[],
  max = 4,
): Promise<string[]> {
  const byPartition = new Map<number, string[]>();
  for (const id of ids) {
    const p = layout.ofOp(id) ?? 0;
    byPartition.set(p, [...(byPartition.get(p) ?? []), id]);
  }
  const redis = harnessClient(cluster.queue.url);
  const lines: string[] = [];
  try {
    for (const [p, stuck] of [...byPartition].slice(0, max)) {
      const first = stuck[0] ?? '';
      const q = new Queue(layout.queueName(p), { connection: redis, skipMetasUpdate: true });
      try {
        const [counts, workers, state, receipt] = await Promise.all([
          q.getJobCounts('wait', 'active', 'delayed', 'prioritized', 'failed'),
          q.getWorkers().then((w) => w.length),
          q.getJobState(first),
          redis.hgetall(receiptKey(layout, first)),
        ]);
        lines.push(
          `partition ${String(p)}: ${String(stuck.length)} ops not terminal; jobs ${JSON.stringify(counts)}, ${String(workers)} workers connected; first ${first}: job ${state}, receipt ${receipt.status ?? 'none'} (attempts ${receipt.attempts ?? '-'})`,
        );
      } catch (err) {
        lines.push(
          `partition ${String(p)}: ${String(stuck.length)} ops not terminal; ${String(err)}`,
        );
      } finally {
        await q.close().catch(() => undefined);
      }
    }
  } finally {
    await closeClient(redis);
  }
  return lines;
}

/** A client of the harness for any topology: it waits out a failover rather than failing fast. */
export function harnessClient(url: string): RedisClient {
  return createRedisClient(url, 'blocking', loadConfig({}), 'chaos-harness');
}

/** The receipt key of an op id; an id naming no partition of the layout is a harness error. */
export function receiptKey(layout: KeyLayout, opId: string): string {
  const partition = layout.ofOp(opId);
  if (partition === undefined) throw new Error(`op id ${opId} names no partition of the layout`);
  return layout.queue(partition).op(opId);
}

/** GET through any API, retrying what did not answer (the judge needs kvq's answer). */
export async function getJson(
  urls: () => string[],
  path: string,
): Promise<{ status: number; body: unknown }> {
  for (let attempt = 0; ; attempt++) {
    const list = urls();
    try {
      const r = await fetch(`${list[attempt % list.length] ?? ''}${path}`, {
        signal: AbortSignal.timeout(5000),
      });
      const text = await r.text();
      if (r.status < 500 || attempt >= 10)
        return { status: r.status, body: text ? (JSON.parse(text) as unknown) : undefined };
    } catch (err) {
      if (attempt >= 10) throw err;
    }
    await sleep(200);
  }
}

/**
 * Every key read once. `at` is the data Redis clock: before the reads for a record (live then,
 * since it was live when read later and nothing writes any more) and after them for a 404 (gone
 * by then), so that a TTL running out during the reads is judged correctly either way.
 */
export async function readFinals(
  cluster: Cluster,
  urls: () => string[],
  keys: number,
  keyName: (i: number) => string,
  violations: string[],
): Promise<FinalRead[]> {
  const redis = harnessClient(cluster.data.url);
  const now = async () => {
    const [sec, micro] = await redis.time();
    return Number(sec) * 1000 + Math.floor(Number(micro) / 1000);
  };
  try {
    const before = await now();
    const reads: { key: string; status: number; body: unknown }[] = [];
    for (let i = 0; i < keys; i++) {
      const key = keyName(i);
      reads.push({ key, ...(await getJson(urls, `/v1/keys/${encodeURIComponent(key)}`)) });
    }
    const after = await now();
    const finals: FinalRead[] = [];
    for (const { key, status, body } of reads) {
      if (status === 404) finals.push({ key, status: 404, at: after });
      else if (status !== 200) violations.push(`final read of ${key}: ${String(status)}`);
      else {
        const b = body as { version: number; value: unknown };
        const valueJson = JSON.stringify(b.value);
        finals.push({ key, status: 200, version: b.version, valueJson, at: before });
      }
    }
    return finals;
  } finally {
    await closeClient(redis);
  }
}
