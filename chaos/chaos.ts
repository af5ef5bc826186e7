import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { type KeyLayout, keyLayout, loadConfig } from '../src/core/index.ts';
import { type Cluster, startCluster } from './cluster.ts';
import type { History } from './history.ts';
import type { FinalRead } from './model.ts';
import { drain, getJson, readFinals } from './settle.ts';
import { createTraffic, type PendingWrite } from './traffic.ts';

/**
 * The chaos run: real processes on loopback, blind and conditional writes, creates, deletes and
 * reads flowing, processes SIGKILLed and restarted, both Redis restarted (AOF, so an accepted
 * write survives). Then the run drains, reads every receipt and every key, and the sequential
 * model (chaos/model.ts) judges every answer kvq gave; readers check real-time read order
 * throughout. Bounded in time and count, stops by itself.
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
  /** PARTITIONS for every process of the run (default: kvq's default). */
  partitions?: number;
  log: (line: string) => void;
}

export interface ChaosResult {
  ok: boolean;
  violations: string[];
  stats: Record<string, number | string>;
  /** Everything the model judged, to dump a key's ops and answers when it flags one. */
  history: History;
  finals: FinalRead[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runChaos(opts: ChaosOptions): Promise<ChaosResult> {
  const dir = mkdtempSync(join(tmpdir(), 'kvq-chaos-'));
  const runId = Math.random().toString(36).slice(2, 8);
  const layout = keyLayout({
    prefix: `chaos${runId}:`,
    queueName: `chaos-${runId}`,
    partitions: opts.partitions ?? loadConfig({}).PARTITIONS,
  });
  const cluster = await startCluster({
    dir,
    apis: opts.apis,
    workers: opts.workers,
    env: {
      KEY_PREFIX: `chaos${runId}:`,
      QUEUE_NAME: `chaos-${runId}`,
      PARTITIONS: String(layout.count),
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
    return await drive(cluster, opts, runId, layout);
  } finally {
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function drive(
  cluster: Cluster,
  opts: ChaosOptions,
  runId: string,
  layout: KeyLayout,
): Promise<ChaosResult> {
  const started = Date.now();
  const kills = { api: 0, worker: 0 };
  const restarts: string[] = [];
  let running = true;
  /** Read through a function: the loops check it after awaits, which narrowing cannot see. */
  const active = () => running;
  const keyName = (i: number) => `chaos/${String(i)}`;
  const urls = () => cluster.apiUrls();
  const traffic = createTraffic({ urls, keys: opts.keys, runId, keyName });
  const { history, counts } = traffic;

  async function writer(): Promise<void> {
    const inflight = new Set<Promise<void>>();
    let seq = 0;
    const perTick = opts.rate / 100;
    let budget = 0;
    while (running) {
      budget += perTick;
      while (budget >= 1 && inflight.size < 256) {
        budget -= 1;
        const p = traffic.write(seq++).finally(() => inflight.delete(p));
        inflight.add(p);
      }
      budget = Math.min(budget, perTick * 2);
      await sleep(10);
    }
    await Promise.all(inflight);
  }

  async function reader(): Promise<void> {
    while (running) await traffic.read();
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
      // In short steps, so that the run's end is not held up by a long pause between faults.
      const next = Date.now() + opts.killEveryMs * (0.7 + Math.random() * 0.6);
      while (active() && Date.now() < next) await sleep(Math.min(100, next - Date.now()));
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
    `chaos: ${String(opts.durationMs / 1000)} s, ${String(layout.count)} partitions, ${String(opts.apis)} APIs, ${String(opts.workers)} workers, ${String(opts.keys)} keys, target ${String(opts.rate)} writes/s`,
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

  // A write whose answer was lost may have been accepted: the client retries it (same
  // Idempotency-Key) now that nothing is failing, until it learns what became of it.
  const lostWrites = traffic.unresolved.splice(0);
  const resolveBy = Date.now() + 60_000;
  const stillOpen: PendingWrite[] = [];
  await Promise.all(
    lostWrites.map(async (p) => {
      if (!(await traffic.resolve(p, resolveBy))) stillOpen.push(p);
    }),
  );

  const drainStart = Date.now();
  await drain(cluster, layout, [...history.ops.keys()], opts.drainTimeoutMs);
  const drainSeconds = (Date.now() - drainStart) / 1000;
  await history.collectReceipts((id) => getJson(urls, `/v1/ops/${encodeURIComponent(id)}`), {
    concurrency: 16,
  });
  const readProblems: string[] = [];
  const finals = await readFinals(cluster, urls, opts.keys, keyName, readProblems);
  const model = history.check(finals);

  const violations = [...traffic.violations, ...readProblems, ...model.violations];
  if (stillOpen.length > 0) {
    violations.push(
      `${String(stillOpen.length)} writes got no definitive answer (first: ${stillOpen[0]?.idempotencyKey ?? ''})`,
    );
  }

  const ops = [...history.ops.values()];
  const byStatus: Record<string, number> = {};
  for (const op of ops)
    byStatus[op.status ?? 'missing'] = (byStatus[op.status ?? 'missing'] ?? 0) + 1;
  const earlyBy: Record<string, number> = {};
  for (const e of history.early) earlyBy[e.httpStatus] = (earlyBy[e.httpStatus] ?? 0) + 1;
  const conditional = ops.filter((o) => o.cond || o.kind !== 'put').length;
  const ttl = ops.filter((o) => o.ttlMs !== undefined).length;
  const answers = [...counts.answers].sort((a, b) => b[1] - a[1]);
  const s = model.stats;
  const stats: Record<string, number | string> = {
    partitions: layout.count,
    'duration (s)': writeSeconds.toFixed(1),
    'writes sent': counts.sent,
    'accepted (202)': ops.length,
    'achieved accepted writes/s': (ops.length / writeSeconds).toFixed(0),
    'accepted conditional (If-Match/If-None-Match, creates, deletes)': conditional,
    'accepted TTL puts': ttl,
    'early answers (404 / 409 / 412)': `${String(earlyBy[404] ?? 0)} / ${String(earlyBy[409] ?? 0)} / ${String(earlyBy[412] ?? 0)}`,
    'answers to every attempt': answers.map(([k, n]) => `${k}: ${String(n)}`).join(', '),
    'client retries (same Idempotency-Key)': counts.retries,
    'refused (503 on every attempt, not accepted)': counts.refused,
    'lost answers resolved after the faults': lostWrites.length - stillOpen.length,
    'gave up (no definitive answer)': stillOpen.length,
    'receipts applied / superseded / failed / dead': `${String(byStatus.applied ?? 0)} / ${String(byStatus.superseded ?? 0)} / ${String(byStatus.failed ?? 0)} / ${String(byStatus.dead ?? 0)}`,
    'receipts not terminal or missing':
      ops.length -
      ['applied', 'superseded', 'failed', 'dead'].reduce((n, k) => n + (byStatus[k] ?? 0), 0),
    'model: keys / ops / final reads': `${String(s.keys)} / ${String(s.ops)} / ${String(s.finals)}`,
    'model: applied / superseded / failed / no effect / not terminal': `${String(s.applied)} / ${String(s.superseded)} / ${String(s.failed)} / ${String(s.noEffect)} / ${String(s.nonTerminal)}`,
    'model: early answers judged': s.early,
    'model: most possible states of a key': s.maxStates,
    'model violations': model.violations.length,
    reads: counts.reads,
    'version regressions seen by readers': counts.regressions,
    'stale reads (below a version reported applied before the read)': counts.staleReads,
    'unknown-outcome 503s (WRITE_NOT_REPLICATED)': counts.unknownOutcome,
    'SIGKILLs (api / worker)': `${String(kills.api)} / ${String(kills.worker)}`,
    'Redis restarts': restarts.join(', ') || 'none',
    'drain time (s)': drainSeconds.toFixed(1),
    violations: violations.length,
  };
  return { ok: violations.length === 0, violations, stats, history, finals };
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
