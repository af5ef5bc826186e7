/**
 * `npm run bench -- --partitions 1,12`: kvq with each partition count in turn (A-B-B-A over the
 * first two), same standalone queue and data redis-server: accepted writes/s through one API,
 * then applied writes/s while one worker process drains what was accepted, and the Redis CPU each
 * write took (used_cpu_sys + used_cpu_user from INFO cpu, over the phase, per write). Prints
 * markdown; BENCHMARKS.md explains the figures.
 */
import { join } from 'node:path';

import { Redis } from 'ioredis';

import { keyLayout, loadConfig } from '../src/core/index.ts';
import { freePort, type RedisServer, startRedisServer } from '../src/redis/index.ts';
import { drainRate, launch, load, partitionQueues, redisCpuSeconds, stop } from './harness.ts';

export interface PartitionRun {
  partitions: number;
  acceptedPerSec: number;
  acceptedP99Ms: number;
  accepted: number;
  /** Redis CPU µs per accepted write, over the measured load window. */
  acceptUs: { queue: number; data: number };
  appliedPerSec: number;
  applied: number;
  /** Redis CPU µs per applied (finished) write, over the whole drain. */
  applyUs: { queue: number; data: number };
}

const WORKER_CONCURRENCY = 64;

export async function comparePartitions(opts: {
  counts: number[];
  /** A-B-B-A over the first two counts, this many times (the rest once, after). */
  rounds?: number;
  dir: string;
  seconds: number;
  connections: number;
  log: (line: string) => void;
}): Promise<PartitionRun[]> {
  const defaults = loadConfig({});
  const [a, b, ...rest] = opts.counts;
  if (a === undefined) throw new Error('--partitions: give at least one partition count');
  // A-B-B-A over the first two, so that drift over the run falls on both equally; the rest once.
  const abba = b === undefined ? [a] : [a, b, b, a];
  const order = [...Array.from({ length: opts.rounds ?? 1 }, () => abba).flat(), ...rest];
  const servers: RedisServer[] = [];
  const runs: PartitionRun[] = [];
  try {
    const [queueServer, dataServer] = await Promise.all([
      startRedisServer({ dir: join(opts.dir, 'pq'), appendonly: false, noeviction: true }),
      startRedisServer({ dir: join(opts.dir, 'pd'), appendonly: false }),
    ]);
    servers.push(queueServer, dataServer);
    const redis = { queue: new Redis(queueServer.url), data: new Redis(dataServer.url) };
    const cpu = async () =>
      Promise.all([redisCpuSeconds(redis.queue), redisCpuSeconds(redis.data)]);
    const body = `{"value":${JSON.stringify({ name: 'bench', n: 42, tags: ['a', 'b'] })}}`;
    try {
      for (const partitions of order) {
        const layout = keyLayout({
          prefix: defaults.KEY_PREFIX,
          queueName: defaults.QUEUE_NAME,
          partitions,
        });
        // A Redis remembers the partition count it was written with: start each run empty.
        await Promise.all([redis.queue.flushall(), redis.data.flushall()]);
        const env = {
          QUEUE_REDIS_URL: queueServer.url,
          KV_REDIS_URL: dataServer.url,
          HOST: '127.0.0.1',
          PARTITIONS: String(partitions),
        };
        const port = await freePort();
        const api = await launch('dist/bin/kvq.js', ['api'], {
          ...env,
          PORT: String(port),
          MAX_BACKLOG: '0',
        });
        const url = `http://127.0.0.1:${String(port)}`;
        const queues = partitionQueues(layout, queueServer.url);
        const put = (seconds: number) =>
          load(url, {
            method: 'PUT',
            prefix: '/v1/keys/w',
            keys: 5000,
            body,
            dir: opts.dir,
            connections: opts.connections,
            seconds,
          });
        try {
          // Warm-up (a fresh process's JIT), not measured; its jobs are drained with the rest.
          await put(Math.max(1, Math.round(opts.seconds / 5)));
          const before = await queues.backlog();
          const [q0, d0] = await cpu();
          const r = await put(opts.seconds);
          const [q1, d1] = await cpu();
          const total = await queues.backlog();
          const accepted = total - before;
          await stop(api);
          // Applies alone: the API is stopped, so the drain's Redis CPU is the workers' only.
          const drained = await drainRate(
            queues,
            total,
            () =>
              Promise.all([
                launch('dist/bin/kvq.js', ['worker'], {
                  ...env,
                  WORKER_CONCURRENCY: String(WORKER_CONCURRENCY),
                }),
              ]),
            { pollMs: 100, redis },
          );
          const perWrite = (s: number, n: number) => (n > 0 ? (s * 1e6) / n : NaN);
          const run: PartitionRun = {
            partitions,
            acceptedPerSec: r.rps,
            acceptedP99Ms: r.p99,
            accepted,
            acceptUs: { queue: perWrite(q1 - q0, accepted), data: perWrite(d1 - d0, accepted) },
            appliedPerSec: drained.opsPerSec,
            applied: drained.done,
            applyUs: {
              queue: perWrite(drained.redisCpu?.queue ?? NaN, drained.done),
              data: perWrite(drained.redisCpu?.data ?? NaN, drained.done),
            },
          };
          runs.push(run);
          opts.log(
            `P=${String(partitions)}: accepted ${r.rps.toFixed(0)}/s (${String(accepted)}; ${run.acceptUs.queue.toFixed(1)} / ${run.acceptUs.data.toFixed(1)} µs queue / data Redis each), applied ${drained.opsPerSec.toFixed(0)}/s (${String(drained.done)}; ${run.applyUs.queue.toFixed(1)} / ${run.applyUs.data.toFixed(1)} µs each)`,
          );
        } finally {
          await stop(api);
          await queues.close();
        }
      }
    } finally {
      redis.queue.disconnect();
      redis.data.disconnect();
    }
  } finally {
    for (const s of servers) await s.stop();
  }
  return runs;
}

const mean = (xs: number[]) => xs.reduce((x, y) => x + y, 0) / xs.length;
const f0 = (x: number) => x.toFixed(0);
const f1 = (x: number) => x.toFixed(1);

/** Every run, the means per partition count and the ratio of the second count to the first. */
export function partitionTables(runs: PartitionRun[], counts: number[]): string {
  const perRun = [
    '| P | accepted writes/s | p99 (ms) | queue Redis µs / accepted write | data Redis µs / accepted write | applied writes/s (1 worker) | queue Redis µs / applied write | data Redis µs / applied write |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...runs.map(
      (r) =>
        `| ${String(r.partitions)} | ${f0(r.acceptedPerSec)} | ${String(r.acceptedP99Ms)} | ${f1(r.acceptUs.queue)} | ${f1(r.acceptUs.data)} | ${f0(r.appliedPerSec)} | ${f1(r.applyUs.queue)} | ${f1(r.applyUs.data)} |`,
    ),
  ];
  const by = (p: number) => runs.filter((r) => r.partitions === p);
  const summary = counts.map((p) => {
    const rs = by(p);
    return {
      p,
      accepted: mean(rs.map((r) => r.acceptedPerSec)),
      applied: mean(rs.map((r) => r.appliedPerSec)),
      acceptQ: mean(rs.map((r) => r.acceptUs.queue)),
      applyQ: mean(rs.map((r) => r.applyUs.queue)),
      applyD: mean(rs.map((r) => r.applyUs.data)),
    };
  });
  const lines = [
    ...perRun,
    '',
    '| P | accepted writes/s | applied writes/s | µs queue Redis / write (accept + apply) | µs data Redis / write | writes/s one core of each takes |',
    '| ---: | ---: | ---: | ---: | ---: | ---: |',
    ...summary.map((s) => {
      const q = s.acceptQ + s.applyQ;
      return `| ${String(s.p)} | ${f0(s.accepted)} | ${f0(s.applied)} | ${f1(q)} | ${f1(s.applyD)} | ${f0(1e6 / q)} / ${f0(1e6 / s.applyD)} |`;
    }),
  ];
  const [a, b] = summary;
  if (a && b) {
    lines.push(
      '',
      `P=${String(b.p)} / P=${String(a.p)}: accepted ${(b.accepted / a.accepted).toFixed(3)}×, applied ${(b.applied / a.applied).toFixed(3)}×`,
    );
  }
  return lines.join('\n');
}
