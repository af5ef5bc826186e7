import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Redis } from 'ioredis';

import { type Cluster, startCluster } from './cluster.ts';
import { ReadOrderChecker } from './read-order.ts';

/**
 * The chaos run: real processes on loopback, writes and reads flowing, processes SIGKILLed and
 * restarted, both Redis restarted; then every accepted write is checked. Bounded in time and
 * count, stops by itself.
 */

export interface ChaosOptions {
  durationMs: number;
  keys: number;
  /** Target writes per second (the run reports what it reached). */
  rate: number;
  apis: number;
  workers: number;
  killEveryMs: number;
  restartRedis: boolean;
  drainTimeoutMs: number;
  log: (line: string) => void;
}

export interface ChaosResult {
  ok: boolean;
  violations: string[];
  stats: Record<string, number | string>;
}

interface Accepted {
  opId: string;
  key: string;
  version: number;
  type: 'put' | 'delete';
  value: number | null;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const TERMINAL = new Set(['applied', 'superseded', 'failed', 'dead']);

export async function runChaos(opts: ChaosOptions): Promise<ChaosResult> {
  const dir = mkdtempSync(join(tmpdir(), 'kvq-chaos-'));
  const runId = Math.random().toString(36).slice(2, 8);
  const cluster = await startCluster({
    dir,
    apis: opts.apis,
    workers: opts.workers,
    env: {
      KEY_PREFIX: `chaos${runId}:`,
      QUEUE_NAME: `chaos-${runId}`,
      WORKER_CONCURRENCY: '32',
      WORKER_LOCK_MS: '6000',
      WORKER_STALLED_INTERVAL_MS: '3000',
      RECONCILE_INTERVAL_MS: '2000',
      ORPHAN_AGE_MS: '20000',
      JOB_BACKOFF_MS: '200',
      MAX_BACKLOG: '0',
    },
  });
  try {
    return await drive(cluster, opts, runId);
  } finally {
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function drive(cluster: Cluster, opts: ChaosOptions, runId: string): Promise<ChaosResult> {
  const started = Date.now();
  const accepted: Accepted[] = [];
  const c = {
    sent: 0,
    notAccepted: 0,
    unknown: 0,
    unexpected: 0,
    retries: 0,
    reads: 0,
    regressions: 0,
  };
  const kills = { api: 0, worker: 0 };
  const restarts: string[] = [];
  const readOrder = new ReadOrderChecker();
  const violations: string[] = [];
  let running = true;
  /** Read through a function: the loops check it after awaits, which narrowing cannot see. */
  const active = () => running;
  const keyName = (i: number) => `chaos/${String(i)}`;
  const urls = () => cluster.apiUrls();

  async function write(seq: number): Promise<void> {
    const key = keyName(Math.floor(Math.random() * opts.keys));
    const type = Math.random() < 0.8 ? 'put' : 'delete';
    const init: RequestInit = {
      method: type === 'put' ? 'PUT' : 'DELETE',
      headers: { 'Content-Type': 'application/json', 'Idempotency-Key': `${runId}-${String(seq)}` },
      ...(type === 'put' ? { body: JSON.stringify({ value: seq }) } : {}),
    };
    const deadline = Date.now() + 30_000;
    for (let attempt = 0; Date.now() < deadline; attempt++) {
      const list = urls();
      const url = list[(seq + attempt) % list.length] ?? '';
      try {
        const r = await fetch(`${url}/v1/keys/${key}`, {
          ...init,
          signal: AbortSignal.timeout(5000),
        });
        if (r.status === 202) {
          const { op } = (await r.json()) as { op: { id: string; version: number } };
          accepted.push({
            opId: op.id,
            key,
            version: op.version,
            type,
            value: type === 'put' ? seq : null,
          });
          return;
        }
        await r.body?.cancel();
        if (r.status === 404 && type === 'delete') {
          c.notAccepted++;
          return;
        }
        if (r.status !== 503) {
          c.unexpected++;
          violations.push(`unexpected ${String(r.status)} for ${init.method ?? ''} ${key}`);
          return;
        }
      } catch {
        // the API died or timed out: retry with the same Idempotency-Key elsewhere
      }
      c.retries++;
      await sleep(100 + Math.random() * 200);
    }
    c.unknown++;
  }

  async function writer(): Promise<void> {
    const inflight = new Set<Promise<void>>();
    let seq = 0;
    const perTick = opts.rate / 100;
    let budget = 0;
    while (running) {
      budget += perTick;
      while (budget >= 1 && inflight.size < 256) {
        budget -= 1;
        const p = write(seq++).finally(() => inflight.delete(p));
        inflight.add(p);
        c.sent++;
      }
      budget = Math.min(budget, perTick * 2);
      await sleep(10);
    }
    await Promise.all(inflight);
  }

  async function reader(): Promise<void> {
    while (running) {
      const key = keyName(Math.floor(Math.random() * opts.keys));
      const list = urls();
      const url = list[Math.floor(Math.random() * list.length)] ?? '';
      const startedAt = performance.now();
      try {
        const r = await fetch(`${url}/v1/keys/${key}`, { signal: AbortSignal.timeout(2000) });
        c.reads++;
        if (r.status === 200) {
          const { version } = (await r.json()) as { version: number };
          const floor = readOrder.record(key, startedAt, performance.now(), version);
          if (floor !== null) {
            c.regressions++;
            violations.push(
              `regression on ${key}: a read completed with ${String(floor)} before this one started, which saw ${String(version)}`,
            );
          }
        } else {
          await r.body?.cancel();
        }
      } catch {
        await sleep(20);
      }
    }
  }

  /** Resolves once every Redis restart the run asks for has happened. */
  let restartsDone: () => void = () => undefined;
  const restarted = new Promise<void>((resolve) => (restartsDone = resolve));

  async function killer(): Promise<void> {
    const queueAt = started + opts.durationMs / 3;
    const dataAt = started + (opts.durationMs * 2) / 3;
    let queueDone = !opts.restartRedis;
    let dataDone = !opts.restartRedis;
    if (queueDone && dataDone) restartsDone();
    while (running) {
      await sleep(opts.killEveryMs * (0.7 + Math.random() * 0.6));
      if (!active()) break;
      if (!queueDone && Date.now() >= queueAt) {
        queueDone = true;
        await cluster.restartRedis('queue');
        restarts.push('queue');
        opts.log(`  restarted the queue Redis (SIGTERM, AOF reload)`);
        if (dataDone) restartsDone();
        continue;
      }
      if (!dataDone && Date.now() >= dataAt) {
        dataDone = true;
        await cluster.restartRedis('data');
        restarts.push('data');
        opts.log(`  restarted the data Redis (SIGTERM, AOF reload)`);
        if (queueDone) restartsDone();
        continue;
      }
      const members = [...cluster.apis, ...cluster.workers];
      const victim = members[Math.floor(Math.random() * members.length)];
      if (!victim) continue;
      await cluster.killAndRestart(victim);
      kills[victim.role]++;
    }
  }

  opts.log(
    `chaos: ${String(opts.durationMs / 1000)} s, ${String(opts.apis)} APIs, ${String(opts.workers)} workers, ${String(opts.keys)} keys, target ${String(opts.rate)} writes/s`,
  );
  const killing = killer();
  const tasks = [writer(), killing, ...Array.from({ length: 4 }, () => reader())];
  try {
    // The faults are what the run is for: traffic keeps flowing until both Redis restarts have
    // happened, however slow the machine (a busy one can take longer than their slots).
    await Promise.all([sleep(opts.durationMs), Promise.race([restarted, killing])]);
  } finally {
    running = false;
  }
  await Promise.all(tasks);
  const writeSeconds = (Date.now() - started) / 1000;
  for (const url of urls()) await cluster.waitReady(url, 20_000);

  // Drain: every accepted op must reach a terminal status.
  const drainStart = Date.now();
  const redis = new Redis(cluster.queue.url);
  const prefix = `chaos${runId}:`;
  const statusOf = new Map<string, string>();
  try {
    for (;;) {
      const pending = accepted.filter((a) => !TERMINAL.has(statusOf.get(a.opId) ?? ''));
      for (let i = 0; i < pending.length; i += 1000) {
        const batch = pending.slice(i, i + 1000);
        const pipe = redis.pipeline();
        for (const a of batch) pipe.hget(`${prefix}op:${a.opId}`, 'status');
        const rows = (await pipe.exec()) ?? [];
        batch.forEach((a, j) => {
          const st = rows[j]?.[1];
          statusOf.set(a.opId, typeof st === 'string' ? st : 'missing');
        });
      }
      const left = accepted.filter((a) => !TERMINAL.has(statusOf.get(a.opId) ?? '')).length;
      if (left === 0 || Date.now() - drainStart > opts.drainTimeoutMs) break;
      await sleep(500);
    }
  } finally {
    redis.disconnect();
  }
  const drainSeconds = (Date.now() - drainStart) / 1000;

  const byStatus: Record<string, number> = {};
  for (const a of accepted) {
    const st = statusOf.get(a.opId) ?? 'missing';
    byStatus[st] = (byStatus[st] ?? 0) + 1;
  }
  const nonTerminal = accepted.filter((a) => !TERMINAL.has(statusOf.get(a.opId) ?? '')).length;
  if (nonTerminal > 0)
    violations.push(`${String(nonTerminal)} accepted ops did not reach a terminal status`);

  // Each key's final state must be its highest-version accepted write that did not fail.
  const expected = new Map<string, Accepted>();
  for (const a of accepted) {
    const st = statusOf.get(a.opId);
    if (st !== 'applied' && st !== 'superseded') continue;
    const cur = expected.get(a.key);
    if (!cur || a.version > cur.version) expected.set(a.key, a);
  }
  let lost = 0;
  const api = urls()[0] ?? '';
  for (const [key, want] of expected) {
    const r = await fetch(`${api}/v1/keys/${key}`);
    const body =
      r.status === 200 ? ((await r.json()) as { version: number; value: unknown }) : null;
    if (r.status !== 200) await r.body?.cancel();
    const okState =
      want.type === 'delete'
        ? r.status === 404
        : r.status === 200 && body?.version === want.version && body.value === want.value;
    if (!okState) {
      lost++;
      violations.push(
        `${key}: expected ${want.type} v${String(want.version)}${want.type === 'put' ? `=${String(want.value)}` : ''}, found ${body ? `v${String(body.version)}=${JSON.stringify(body.value)}` : String(r.status)}`,
      );
    }
  }

  const stats: Record<string, number | string> = {
    'duration (s)': writeSeconds.toFixed(1),
    'writes sent': c.sent,
    'accepted (202)': accepted.length,
    'achieved accepted writes/s': (accepted.length / writeSeconds).toFixed(0),
    'not accepted (404 delete of absent key)': c.notAccepted,
    'client retries (same Idempotency-Key)': c.retries,
    'gave up (no definitive answer)': c.unknown,
    'unexpected status': c.unexpected,
    applied: byStatus.applied ?? 0,
    superseded: byStatus.superseded ?? 0,
    failed: byStatus.failed ?? 0,
    dead: byStatus.dead ?? 0,
    'not terminal': nonTerminal,
    'keys checked': expected.size,
    lost,
    reads: c.reads,
    'version regressions seen by readers': c.regressions,
    'SIGKILLs (api / worker)': `${String(kills.api)} / ${String(kills.worker)}`,
    'Redis restarts': restarts.join(', ') || 'none',
    'drain time (s)': drainSeconds.toFixed(1),
  };
  const ok = violations.length === 0 && c.unknown === 0;
  if (c.unknown > 0) violations.push(`${String(c.unknown)} writes got no definitive answer`);
  return { ok, violations, stats };
}

export function summaryTable(r: ChaosResult): string {
  const rows = Object.entries(r.stats).map(([k, v]) => `| ${k} | ${String(v)} |`);
  return [
    '| chaos run | |',
    '| --- | ---: |',
    ...rows,
    `| result | ${r.ok ? 'PASS' : 'FAIL'} |`,
  ].join('\n');
}
