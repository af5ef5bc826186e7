/**
 * `node bench/partitions-replay.ts [--counts 1,12] [--rounds 2] [--seconds 30] [--serial]
 * [--commands]`: where a worker
 * process's time goes per applied job, per partition count. Each count's backlog is accepted once
 * (blind PUTs through the API) and both Redis are saved to RDB; every drain then starts from a
 * fresh copy of that snapshot, so all drains apply the same jobs, and the counts drain side by
 * side (each with its own redis-servers), so that both see the same load from the rest of the
 * host. Per drain, per job: the worker's CPU and syscalls between 10 % and 90 % drained, and each
 * Redis's CPU and commands (INFO commandstats, counting those run inside scripts) over the whole
 * drain. `--serial` drains the counts one after another instead; `--commands` adds the queue
 * Redis's commands by µs per job; a count written `12@768` drains with WORKER_CONCURRENCY=768.
 * BENCHMARKS.md ("Where P = 12's extra apply cost goes") explains the figures.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { Redis } from 'ioredis';

import { keyLayout, loadConfig } from '../src/core/index.ts';
import { freePort, startRedisServer } from '../src/redis/index.ts';
import { launch, load, partitionQueues, redisCpuSeconds, stop, stopAll } from './harness.ts';

const { values: args } = parseArgs({
  options: {
    // A count may carry the worker's WORKER_CONCURRENCY as `count@concurrency` (default 64).
    counts: { type: 'string', default: '1,12' },
    rounds: { type: 'string', default: '2' },
    seconds: { type: 'string', default: '30' },
    // Drain the counts one after another instead of side by side (cleaner per-call timings).
    serial: { type: 'boolean', default: false },
    // Also print, per count, the queue Redis's commands by µs per job (INFO commandstats).
    commands: { type: 'boolean', default: false },
  },
});
const drains = args.counts.split(',').map((c) => {
  const [p, concurrency] = c.split('@');
  return { p: Number(p), concurrency: Number(concurrency ?? 64), label: c };
});
const counts = [...new Set(drains.map((d) => d.p))];
const defaults = loadConfig({});
const layoutOf = (partitions: number) =>
  keyLayout({ prefix: defaults.KEY_PREFIX, queueName: defaults.QUEUE_NAME, partitions });
const body = `{"value":${JSON.stringify({ name: 'bench', n: 42, tags: ['a', 'b'] })}}`;
const dir = mkdtempSync(join(tmpdir(), 'kvq-replay-'));

/** Accepts `seconds` of PUTs with PARTITIONS=p and leaves both Redis as RDB files under dir. */
async function accept(p: number, seconds: number): Promise<void> {
  const base = join(dir, `backlog-${String(p)}`);
  const queue = await startRedisServer({
    dir: join(base, 'q'),
    appendonly: false,
    noeviction: true,
  });
  const data = await startRedisServer({ dir: join(base, 'd'), appendonly: false });
  try {
    const port = await freePort();
    const api = await launch('dist/bin/kvq.js', ['api'], {
      QUEUE_REDIS_URL: queue.url,
      KV_REDIS_URL: data.url,
      HOST: '127.0.0.1',
      PARTITIONS: String(p),
      PORT: String(port),
      MAX_BACKLOG: '0',
    });
    const url = `http://127.0.0.1:${String(port)}`;
    await load(url, {
      method: 'PUT',
      prefix: '/v1/keys/w',
      keys: 5000,
      body,
      dir,
      connections: 64,
      seconds,
    });
    await stop(api);
  } finally {
    for (const s of [queue, data]) {
      const c = new Redis(s.url);
      await c.save();
      c.disconnect();
      await s.stop();
    }
  }
}

/** CPU ticks (utime + stime), read and write syscalls of a process so far. */
function processCounters(pid: number): number[] {
  const stat = readFileSync(`/proc/${String(pid)}/stat`, 'utf8')
    .split(') ')[1]!
    .split(' ');
  const io = readFileSync(`/proc/${String(pid)}/io`, 'utf8');
  const field = (name: string) => Number(new RegExp(`${name}: (\\d+)`).exec(io)?.[1]);
  return [Number(stat[11]) + Number(stat[12]), field('syscr'), field('syscw')];
}

/** INFO commandstats as command → calls and µs over the drain. */
function commandStats(info: string): Map<string, { calls: number; usec: number }> {
  return new Map(
    [...info.matchAll(/^cmdstat_(\S+):calls=(\d+),usec=(\d+)/gm)].map((m) => [
      m[1]!,
      { calls: Number(m[2]), usec: Number(m[3]) },
    ]),
  );
}

const commandCount = (info: string) =>
  [...info.matchAll(/^cmdstat_\S+:calls=(\d+)/gm)].reduce((n, m) => n + Number(m[1]), 0);

interface ReplayRun {
  partitions: number;
  /** The count as given (`12@768`: 12 partitions, WORKER_CONCURRENCY=768). */
  label: string;
  jobs: number;
  appliedPerSec: number;
  workerUs: number;
  syscr: number;
  syscw: number;
  queueUs: number;
  dataUs: number;
  queueCommands: number;
  dataCommands: number;
  queueStats: Map<string, { calls: number; usec: number }>;
}

/** Drains a fresh copy of count p's backlog with one worker process. */
async function drain(
  { p, concurrency, label }: (typeof drains)[number],
  tag: string,
): Promise<ReplayRun> {
  const base = join(dir, `drain-${label}-${tag}`);
  for (const side of ['q', 'd']) {
    mkdirSync(join(base, side), { recursive: true });
    copyFileSync(join(dir, `backlog-${String(p)}`, side, 'dump.rdb'), join(base, side, 'dump.rdb'));
  }
  const queue = await startRedisServer({
    dir: join(base, 'q'),
    appendonly: false,
    noeviction: true,
  });
  const data = await startRedisServer({ dir: join(base, 'd'), appendonly: false });
  const redis = { queue: new Redis(queue.url), data: new Redis(data.url) };
  const queues = partitionQueues(layoutOf(p), queue.url);
  try {
    const jobs = await queues.backlog();
    await Promise.all([redis.queue.config('RESETSTAT'), redis.data.config('RESETSTAT')]);
    const cpu0 = await Promise.all([redisCpuSeconds(redis.queue), redisCpuSeconds(redis.data)]);
    const worker = await launch('dist/bin/kvq.js', ['worker'], {
      QUEUE_REDIS_URL: queue.url,
      KV_REDIS_URL: data.url,
      HOST: '127.0.0.1',
      PARTITIONS: String(p),
      WORKER_CONCURRENCY: String(concurrency),
    });
    const marks: { t: number; done: number; counters: number[] }[] = [];
    for (const deadline = Date.now() + 600_000; Date.now() < deadline;) {
      const left = await queues.backlog();
      marks.push({
        t: performance.now(),
        done: jobs - left,
        counters: processCounters(worker.pid!),
      });
      if (left === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const cpu1 = await Promise.all([redisCpuSeconds(redis.queue), redisCpuSeconds(redis.data)]);
    const [queueInfo, dataInfo] = await Promise.all([
      redis.queue.info('commandstats'),
      redis.data.info('commandstats'),
    ]);
    await stop(worker);
    const at = (f: number) => marks.find((m) => m.done >= jobs * f) ?? marks.at(-1)!;
    const [a, b] = [at(0.1), at(0.9)];
    const n = b.done - a.done;
    const per = (i: number) => (b.counters[i]! - a.counters[i]!) / n;
    return {
      partitions: p,
      label,
      jobs,
      appliedPerSec: (n / (b.t - a.t)) * 1000,
      workerUs: (per(0) * 1e6) / 100, // clock ticks of 10 ms
      syscr: per(1),
      syscw: per(2),
      queueUs: ((cpu1[0] - cpu0[0]) * 1e6) / jobs,
      dataUs: ((cpu1[1] - cpu0[1]) * 1e6) / jobs,
      queueCommands: commandCount(queueInfo) / jobs,
      dataCommands: commandCount(dataInfo) / jobs,
      queueStats: commandStats(queueInfo),
    };
  } finally {
    await queues.close();
    redis.queue.disconnect();
    redis.data.disconnect();
    await queue.stop();
    await data.stop();
    rmSync(base, { recursive: true, force: true });
  }
}

/** The queue Redis's commands by µs per job, one column pair (calls, µs per job) per count. */
function commandTable(runs: ReplayRun[]): string {
  const names = [...new Set(runs.flatMap((r) => [...r.queueStats.keys()]))];
  const perJob = (r: ReplayRun, n: string) => (r.queueStats.get(n)?.usec ?? 0) / r.jobs;
  names.sort((a, b) => perJob(runs.at(-1)!, b) - perJob(runs.at(-1)!, a));
  const head = runs.map((r) => `P = ${r.label}: calls / µs per job`);
  return [
    `| command | ${head.join(' | ')} |`,
    `| --- | ${runs.map(() => '---:').join(' | ')} |`,
    ...names.map(
      (n) =>
        `| ${n} | ${runs.map((r) => `${((r.queueStats.get(n)?.calls ?? 0) / r.jobs).toFixed(2)} / ${perJob(r, n).toFixed(2)}`).join(' | ')} |`,
    ),
  ].join('\n');
}

try {
  for (const p of counts) await accept(p, Number(args.seconds));
  console.log(
    '| P | jobs | applied/s | worker CPU µs/job | syscalls r / w per job | queue Redis µs / commands per job | data Redis µs / commands per job |',
  );
  console.log('| ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (let round = 0; round < Number(args.rounds); round++) {
    const runs: ReplayRun[] = [];
    if (args.serial) for (const d of drains) runs.push(await drain(d, String(round)));
    else runs.push(...(await Promise.all(drains.map((d) => drain(d, String(round))))));
    for (const r of runs) {
      console.log(
        `| ${r.label} | ${String(r.jobs)} | ${r.appliedPerSec.toFixed(0)} | ${r.workerUs.toFixed(1)} | ${r.syscr.toFixed(2)} / ${r.syscw.toFixed(2)} | ${r.queueUs.toFixed(1)} / ${r.queueCommands.toFixed(2)} | ${r.dataUs.toFixed(1)} / ${r.dataCommands.toFixed(2)} |`,
      );
    }
    if (args.commands) console.log(commandTable(runs));
  }
} finally {
  await stopAll();
  rmSync(dir, { recursive: true, force: true });
}
