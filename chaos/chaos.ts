import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { type KeyLayout, keyLayout, loadConfig } from '../src/core/index.ts';
import { type Cluster, startCluster, type Topology } from './cluster.ts';
import type { History } from './history.ts';
import type { FinalRead } from './model.ts';
import { describeStuck, drain, getJson, readFinals } from './settle.ts';
import { createTraffic, type PendingWrite, WRITE_PATIENCE_MS } from './traffic.ts';

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
  /**
   * standalone (default): both Redis restarted with AOF. sentinel / cluster: the primaries of
   * both Redis fail (`failovers`), replica acks on (MIN_REPLICA_ACKS=1).
   */
  topology?: Topology;
  /** With sentinel / cluster: the primary failures, in order, spread over the run. */
  failovers?: { which: 'queue' | 'data'; signal: 'SIGKILL' | 'SIGSTOP' }[];
  log: (line: string) => void;
}

export interface ChaosResult {
  ok: boolean;
  violations: string[];
  stats: Record<string, number | string>;
  /** Everything the model judged, to dump a key's ops and answers when it flags one. */
  history: History;
  finals: FinalRead[];
  /** Where the ops that did not drain in time are stuck (empty when every op drained). */
  stuck: string[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** A sleep that does not keep the process alive: a bound on something else. */
const bound = (ms: number) => new Promise((r) => setTimeout(r, ms).unref());

interface RedisFault {
  which: 'queue' | 'data';
  signal?: 'SIGKILL' | 'SIGSTOP';
}

/** Each primary killed and stalled once. */
const DEFAULT_FAILOVERS: Required<RedisFault>[] = [
  { which: 'queue', signal: 'SIGKILL' },
  { which: 'data', signal: 'SIGKILL' },
  { which: 'queue', signal: 'SIGSTOP' },
  { which: 'data', signal: 'SIGSTOP' },
];

export async function runChaos(opts: ChaosOptions): Promise<ChaosResult> {
  const dir = mkdtempSync(join(tmpdir(), 'kvq-chaos-'));
  const runId = Math.random().toString(36).slice(2, 8);
  const layout = keyLayout({
    prefix: `chaos${runId}:`,
    queueName: `chaos-${runId}`,
    partitions: opts.partitions ?? loadConfig({}).PARTITIONS,
  });
  const topology = opts.topology ?? 'standalone';
  const cluster = await startCluster({
    dir,
    topology,
    apis: opts.apis,
    workers: opts.workers,
    env: {
      ...(topology === 'standalone' ? {} : { MIN_REPLICA_ACKS: '1' }),
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
  // A value read from a primary before its replicas had it may vanish in a failover: on those
  // topologies a read below an earlier read is counted, not flagged; a read below a version
  // already reported applied when it started is always a violation (replica acks are on).
  const traffic = createTraffic({
    urls,
    keys: opts.keys,
    runId,
    keyName,
    readsMayRegress: cluster.topology !== 'standalone',
  });
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

  /** Resolves once every Redis fault the run asks for has happened. */
  let faultsDone: () => void = () => undefined;
  const faulted = new Promise<void>((resolve) => (faultsDone = resolve));
  const replicated = cluster.topology !== 'standalone';
  const faults: RedisFault[] = !opts.restartRedis
    ? []
    : replicated
      ? (opts.failovers ?? DEFAULT_FAILOVERS).map((f) => ({ ...f }))
      : [{ which: 'queue' }, { which: 'data' }];
  const recoveries: number[] = [];
  /** A key of partition 0, whose primary the failovers take down: probes of recovery. */
  const probeKey = (n: number) => {
    for (let i = n; ; i++) if (layout.of(`probe/${String(i)}`) === 0) return `probe/${String(i)}`;
  };

  /** Time from `since` until a waited write to partition 0 is applied through any API. */
  async function recoveredAfter(since: number): Promise<number> {
    // Bounded, so that a recovery slower than this shows as NaN instead of holding the run.
    for (let n = 0; Date.now() - since < 60_000; n++) {
      const list = urls();
      try {
        const r = await fetch(`${list[n % list.length] ?? ''}/v1/keys/${probeKey(n * 7)}`, {
          method: 'PUT',
          headers: { 'Content-Type': 'application/json', Prefer: 'wait=2' },
          body: JSON.stringify({ value: n }),
          signal: AbortSignal.timeout(5000),
        });
        const body = (await r.json().catch(() => ({}))) as { op?: { status?: string } };
        if (r.ok && body.op?.status === 'applied') return Date.now() - since;
      } catch {
        // an API being restarted: try another
      }
      await sleep(100);
    }
    return Number.NaN;
  }

  async function redisFault(f: RedisFault): Promise<void> {
    if (!replicated) {
      await cluster.restartRedis(f.which);
      restarts.push(f.which);
      opts.log(`  restarted the ${f.which} Redis (SIGTERM, AOF reload)`);
      return;
    }
    let recovery: Promise<number> | undefined;
    const what = await cluster[f.which].failPrimary(f.signal ?? 'SIGKILL', layout.tag(0), () => {
      recovery = recoveredAfter(Date.now());
    });
    const ms = recovery ? await recovery : Number.NaN;
    recoveries.push(ms);
    restarts.push(`${f.which} ${f.signal ?? 'SIGKILL'}`);
    opts.log(`  ${f.which} Redis: ${what}; writes applied again after ${(ms / 1000).toFixed(1)} s`);
  }

  async function killer(): Promise<void> {
    const due = faults.map((_, i) => started + (opts.durationMs * (i + 1)) / (faults.length + 1));
    let next = 0;
    if (faults.length === 0) faultsDone();
    while (running) {
      // In short steps, so that the run's end is not held up by a long pause between faults.
      const at = Date.now() + opts.killEveryMs * (0.7 + Math.random() * 0.6);
      while (active() && Date.now() < at) await sleep(Math.min(100, at - Date.now()));
      if (!active()) break;
      const fault = faults[next];
      if (fault && Date.now() >= (due[next] ?? 0)) {
        next++;
        // Processes keep being killed while the Redis fails over.
        await Promise.all([redisFault(fault), killProcesses(fault.which === 'queue' ? 3 : 2)]);
        if (next === faults.length) faultsDone();
        continue;
      }
      await killProcesses(1);
    }
  }

  async function killProcesses(n: number): Promise<void> {
    for (let i = 0; i < n && active(); i++) {
      const members = [...cluster.apis, ...cluster.workers];
      const victim = members[Math.floor(Math.random() * members.length)];
      if (!victim) continue;
      await cluster.killAndRestart(victim);
      kills[victim.role]++;
      if (i + 1 < n) await sleep(500);
    }
  }

  opts.log(
    `chaos: ${cluster.topology}, ${String(opts.durationMs / 1000)} s, ${String(layout.count)} partitions, ${String(opts.apis)} APIs, ${String(opts.workers)} workers, ${String(opts.keys)} keys, target ${String(opts.rate)} writes/s`,
  );
  const killing = killer();
  const tasks = [writer(), killing, ...Array.from({ length: 4 }, () => reader())];
  // Bounds that keep a stuck fault or task from holding the run (each then a violation).
  const faultBoundMs = opts.durationMs * 2 + 120_000;
  const taskBoundMs = WRITE_PATIENCE_MS + 30_000;
  const harness: string[] = [];
  try {
    // The faults are what the run is for: traffic keeps flowing until both Redis restarts have
    // happened, however slow the machine (a busy one can take longer than their slots).
    const [, faults] = await Promise.all([
      sleep(opts.durationMs),
      Promise.race([
        faulted.then(() => 'done'),
        killing.then(() => 'done'),
        bound(faultBoundMs).then(() => 'late'),
      ]),
    ]);
    if (faults === 'late') {
      harness.push(`the Redis faults did not all happen within ${String(faultBoundMs / 1000)} s`);
    }
  } finally {
    running = false;
  }
  const tasksDone = await Promise.race([
    Promise.all(tasks).then(() => true),
    bound(taskBoundMs).then(() => false),
  ]);
  if (!tasksDone) {
    harness.push(
      `writers, readers or the killer still busy ${String(taskBoundMs / 1000)} s after the run`,
    );
  }
  // A kvq process must ride out a failover (or a restart during one), not exit.
  for (const e of cluster.selfExits) {
    opts.log(`  ${e}`);
    harness.push(e);
  }
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
  const undrained = await drain(cluster, layout, [...history.ops.keys()], opts.drainTimeoutMs);
  const drainSeconds = (Date.now() - drainStart) / 1000;
  const stuck = undrained.length > 0 ? await describeStuck(cluster, layout, undrained) : [];
  await history.collectReceipts((id) => getJson(urls, `/v1/ops/${encodeURIComponent(id)}`), {
    concurrency: 16,
  });
  const readProblems: string[] = [];
  const finals = await readFinals(cluster, urls, opts.keys, keyName, readProblems);
  const model = history.check(finals);

  const violations = [...harness, ...traffic.violations, ...readProblems, ...model.violations];
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
    topology: cluster.topology,
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
    'reads with consistency=replicated / answered 503 READ_NOT_REPLICATED': `${String(counts.replicatedReads)} / ${String(counts.readsNotReplicated)}`,
    'stale reads (below a version reported applied, or read replicated, before the read)':
      counts.staleReads,
    'unknown-outcome 503s (WRITE_NOT_REPLICATED)': counts.unknownOutcome,
    'SIGKILLs (api / worker)': `${String(kills.api)} / ${String(kills.worker)}`,
    'kvq processes that exited by themselves': cluster.selfExits.length,
    [replicated
      ? 'primary failures (replica promoted, old primary back as a replica)'
      : 'Redis restarts']: restarts.join(', ') || 'none',
    ...(replicated
      ? {
          'time to recover (s, fault to the next write applied in its partition)': recoveries
            .map((ms) => (ms / 1000).toFixed(1))
            .join(', '),
        }
      : {}),
    'drain time (s)': drainSeconds.toFixed(1),
    violations: violations.length,
  };
  return { ok: violations.length === 0, violations, stats, history, finals, stuck };
}

/**
 * Where undrained ops are stuck, then the judged history of every key a violation names (at most
 * `max` keys): its ops, early answers, every attempt of its writes and its final read, to print
 * when a run fails.
 */
export function flaggedKeysDump(r: ChaosResult, max = 10): string {
  const keys = [
    ...new Set(
      r.violations.flatMap((v) => [...v.matchAll(/key "([^"]+)"/g)].map((m) => m[1] ?? '')),
    ),
  ].slice(0, max);
  return [...r.stuck, ...keys.map((k) => r.history.dump(k, r.finals))].join('\n');
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
