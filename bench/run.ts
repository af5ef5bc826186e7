/**
 * `npm run bench`: kvq against the bare-library ceilings, measured side by side in one run, on
 * loopback only, bounded, stopping by itself. Writes BENCHMARKS.md (unless --smoke or --out).
 *
 *   npm run bench                 full run (~3 min)
 *   npm run bench -- --smoke      5-second smoke (CI), table printed, nothing written
 *   npm run bench -- --partitions 1,12
 *                                 only the partition comparison (bench/partitions.ts; ~3 min,
 *                                 with --smoke ~1 min), tables printed, nothing written;
 *                                 --rounds N repeats its A-B-B-A N times (means over all steps)
 *   npm run bench -- --observability
 *                                 only what metrics and auth cost the API, on vs off, reads and
 *                                 accepted writes (bench/observability.ts; ~5 min), table printed
 *
 * Where a worker's time goes per applied job at each partition count (same backlog replayed from
 * an RDB snapshot, counts drained side by side): `node bench/partitions-replay.ts` after a build.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import autocannon from 'autocannon';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';

import { keyLayout, loadConfig } from '../src/core/index.ts';
import { freePort, type RedisServer, startRedisServer } from '../src/redis/index.ts';
import {
  abba,
  drainRate,
  KVQ_NODE_OPTIONS,
  launch,
  load,
  meanHttp,
  partitionQueues,
  root,
  rssMb,
  singleQueue,
  stop,
  stopAll,
  WRK,
} from './harness.ts';
import { bytesPerKey } from './memory.ts';
import { compareObservabilityCost, costTable, metricsWork } from './observability.ts';
import { comparePartitions, partitionTables } from './partitions.ts';

const { values: args } = parseArgs({
  options: {
    smoke: { type: 'boolean', default: false },
    out: { type: 'string' },
    partitions: { type: 'string' },
    rounds: { type: 'string', default: '1' },
    observability: { type: 'boolean', default: false },
  },
});
const SMOKE = args.smoke;
const DURATION = SMOKE ? 1 : 10; // seconds per HTTP phase
const CONNECTIONS = 64;
const DRAIN_JOBS = SMOKE ? 2000 : 40_000;
const MEMORY_KEYS = SMOKE ? 2000 : 100_000;
const CONCURRENCY = 64;
/** kvq's keys as its processes here lay them out: default prefix and queue name, PARTITIONS. */
const DEFAULTS = loadConfig({});
const PARTITIONS = Number(process.env.PARTITIONS ?? DEFAULTS.PARTITIONS);
const layout = keyLayout({
  prefix: DEFAULTS.KEY_PREFIX,
  queueName: DEFAULTS.QUEUE_NAME,
  partitions: PARTITIONS,
});

/** HTTP load with this run's connections and phase length. */
function loadAt(
  url: string,
  opts: Omit<Parameters<typeof load>[1], 'dir' | 'connections' | 'seconds'>,
) {
  return load(url, { ...opts, dir, connections: CONNECTIONS, seconds: DURATION });
}

/**
 * An open-loop-like write load at `rate` requests/s for DURATION seconds; returns the rate reached.
 * With wrk: 64 connections, each waiting an exponentially distributed time before its next request
 * (wrk's `delay()` hook), so arrivals are spread evenly over time instead of coming in bursts; a
 * 3-second calibration run first measures the response time, which is taken off the delay.
 * Without wrk, autocannon's `overallRate`, which sends each second's budget in a burst (measured
 * here: it alone turned a 1 ms p50 into 30-45 ms at 600 writes/s), so its latencies are an upper
 * bound.
 */
async function paced(
  url: string,
  rate: number,
  body: string,
): Promise<{ achieved: number; since: number }> {
  const conns = 64;
  if (!WRK) {
    const r = await autocannon({
      url,
      connections: 32,
      duration: DURATION,
      overallRate: rate,
      requests: [
        {
          method: 'PUT',
          headers: { 'content-type': 'application/json' },
          body,
          setupRequest: (req) => ({
            ...req,
            path: `/v1/keys/l${String(Math.floor(Math.random() * 2000))}`,
          }),
        },
      ],
    });
    return { achieved: r.requests.average, since: 0 };
  }
  const run = (meanDelayMs: number, seconds: number) => {
    const script = join(dir, 'wrk-paced.lua');
    writeFileSync(
      script,
      [
        'wrk.method = "PUT"',
        `wrk.body = '${body}'`,
        'wrk.headers["Content-Type"] = "application/json"',
        'request = function() return wrk.format(nil, "/v1/keys/l" .. math.random(0, 1999)) end',
        // Exponential think time with the given mean; the uniform term keeps the mean when wrk
        // truncates to whole milliseconds.
        `delay = function() return -math.log(1 - math.random()) * ${String(meanDelayMs)} + math.random() end`,
      ].join('\n'),
    );
    const out = execFileSync(
      'wrk',
      ['-t1', `-c${String(conns)}`, `-d${String(seconds)}s`, '-s', script, url],
      { encoding: 'utf8' },
    );
    return Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0);
  };
  const period = (conns * 1000) / rate;
  const first = run(period, SMOKE ? 1 : 3);
  const responseMs = first > 0 ? Math.max(0, (conns * 1000) / first - period) : 0;
  // Let the calibration's writes drain; only writes accepted from here on are counted.
  await new Promise((r) => setTimeout(r, 1000));
  const since = Date.now();
  return { achieved: run(Math.max(0.5, period - responseMs), DURATION), since };
}

// kvq is measured as it ships: the compiled build.
execFileSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: 'inherit' });
const dir = mkdtempSync(join(tmpdir(), 'kvq-bench-'));
const machine = () =>
  `${String(cpus().length)} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${execFileSync('redis-server', ['--version']).toString().split(' ').slice(0, 3).join(' ')}`;

if (args.partitions !== undefined) {
  // Only the partition comparison (bench/partitions.ts), then stop.
  const counts = args.partitions.split(',').map(Number);
  try {
    const runs = await comparePartitions({
      counts,
      rounds: Math.max(1, Number(args.rounds) || 1),
      dir,
      seconds: DURATION,
      connections: CONNECTIONS,
      log: (l) => {
        console.error(l);
      },
    });
    console.log(
      `\n${machine()}, load by ${WRK ? 'wrk' : 'autocannon'}\n\n${partitionTables(runs, counts)}`,
    );
  } finally {
    await stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
  process.exit(0);
}
if (args.observability) {
  try {
    const load1 = loadavg()[0] ?? 0;
    const { rows, auth } = await compareObservabilityCost({
      dir,
      seconds: DURATION,
      connections: CONNECTIONS,
      log: (l) => {
        console.error(l);
      },
    });
    const load2 = loadavg()[0] ?? 0;
    const work = await metricsWork();
    console.log(
      `\n${machine()}, load by ${WRK ? 'wrk' : 'autocannon'}, ${String(DURATION)} s per run, ` +
        `1-minute load average ${load1.toFixed(1)} before, ${load2.toFixed(1)} after; auth: ${auth}\n\n${costTable(rows)}\n\n` +
        `In-process, without HTTP, CPU time: ${work.perRequestUs.toFixed(2)} µs to record one request; ${work.perScrapeMs.toFixed(2)} ms to render one scrape.`,
    );
  } finally {
    await stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
  process.exit(0);
}
const servers: RedisServer[] = [];
try {
  const [queueRedis, dataRedis] = await Promise.all([
    startRedisServer({ dir: join(dir, 'q'), appendonly: false, noeviction: true }),
    startRedisServer({ dir: join(dir, 'd'), appendonly: false }),
  ]);
  servers.push(queueRedis, dataRedis);
  const qr = new Redis(queueRedis.url);
  const dr = new Redis(dataRedis.url);
  qr.on('error', () => undefined);
  dr.on('error', () => undefined);
  const env = {
    QUEUE_REDIS_URL: queueRedis.url,
    KV_REDIS_URL: dataRedis.url,
    HOST: '127.0.0.1',
    PARTITIONS: String(PARTITIONS),
  };

  // kvq API, the two bare routes and the versioned add route (a reference), all up at once.
  const [kvqPort, getPort, addPort, versionPort] = await Promise.all([
    freePort(),
    freePort(),
    freePort(),
    freePort(),
  ]);
  const api = await launch('dist/bin/kvq.js', ['api'], {
    ...env,
    PORT: String(kvqPort),
    MAX_BACKLOG: '0',
  });
  const bareGet = await launch('bench/baselines/bare-get.ts', [], {
    ...env,
    PORT: String(getPort),
  });
  const bareAdd = await launch('bench/baselines/bare-add.ts', [], {
    ...env,
    PORT: String(addPort),
    QUEUE_NAME: 'bare',
  });
  const bareAddVersioned = await launch('bench/baselines/bare-add.ts', [], {
    ...env,
    PORT: String(versionPort),
    QUEUE_NAME: 'bare',
    BARE_VERSION: '1',
  });
  const kvq = `http://127.0.0.1:${String(kvqPort)}`;

  // 1. Reads: 1,000 keys written through kvq (and the same values with plain SET for the bare route).
  const seedWorker = await launch('dist/bin/kvq.js', ['worker'], env);
  const value = JSON.stringify({ name: 'bench', n: 42, tags: ['a', 'b'] });
  for (let i = 0; i < 1000; i += 100) {
    await Promise.all(
      Array.from({ length: 100 }, (_, j) =>
        fetch(`${kvq}/v1/keys/r${String(i + j)}`, {
          method: 'PUT',
          headers: { 'Content-Type': 'application/json', Prefer: 'wait=10' },
          body: `{"value":${value}}`,
        }).then((r) => r.body?.cancel()),
      ),
    );
  }
  await stop(seedWorker);
  const pipe = dr.pipeline();
  for (let i = 0; i < 1000; i++) pipe.set(`r${String(i)}`, value);
  await pipe.exec();
  // Each pair is measured in A-B-B-A order and averaged, so that drift over the run (other
  // processes, CPU frequency, Redis memory growth) falls on both sides equally.
  const readOpts = { method: 'GET', prefix: '/v1/keys/r', keys: 1000 } as const;
  const bareGetUrl = `http://127.0.0.1:${String(getPort)}`;
  const [readKvq, readBare] = await abba(
    () => loadAt(kvq, readOpts),
    () => loadAt(bareGetUrl, { ...readOpts, prefix: '/k/r' }),
    meanHttp,
  );
  console.error(`reads: kvq ${readKvq.rps.toFixed(0)}/s, bare ${readBare.rps.toFixed(0)}/s`);
  // 2. Accepted writes (no workers running: pure acceptance cost).
  const body = `{"value":${value}}`;
  const writeOpts = { method: 'PUT', prefix: '/v1/keys/w', keys: 5000, body } as const;
  const bareAddUrl = `http://127.0.0.1:${String(addPort)}`;
  const [acceptKvq, acceptBare] = await abba(
    () => loadAt(kvq, writeOpts),
    () => loadAt(bareAddUrl, { ...writeOpts, prefix: '/k/w' }),
    meanHttp,
  );
  console.error(`accepted: kvq ${acceptKvq.rps.toFixed(0)}/s, bare ${acceptBare.rps.toFixed(0)}/s`);
  // The reference floor for a versioned acceptance, A-B-B-A against the plain add route.
  const [acceptFloor, acceptBare2] = await abba(
    () => loadAt(`http://127.0.0.1:${String(versionPort)}`, { ...writeOpts, prefix: '/k/w' }),
    () => loadAt(bareAddUrl, { ...writeOpts, prefix: '/k/w' }),
    meanHttp,
  );
  const floorRatio = acceptFloor.rps / acceptBare2.rps;
  console.error(
    `accepted, reference: versioned add ${acceptFloor.rps.toFixed(0)}/s, bare ${acceptBare2.rps.toFixed(0)}/s`,
  );
  const apiRss = rssMb(api);
  const bareAddRss = rssMb(bareAdd);
  await stop(bareGet);
  await stop(bareAdd);
  await stop(bareAddVersioned);
  await qr.flushall();
  await dr.flushall();

  // 3. Applied writes: a backlog accepted through kvq's API, drained by 1 then 2 worker processes;
  //    the raw BullMQ loop drains the same number of jobs.
  const kvqQueue = partitionQueues(layout, queueRedis.url);
  const fillKvq = async () => {
    for (let i = 0; i < DRAIN_JOBS; i += 200) {
      await Promise.all(
        Array.from({ length: Math.min(200, DRAIN_JOBS - i) }, (_, j) =>
          fetch(`${kvq}/v1/keys/d${String((i + j) % 5000)}`, {
            method: 'PUT',
            headers: { 'Content-Type': 'application/json' },
            body,
          }).then((r) => r.body?.cancel()),
        ),
      );
    }
  };
  const kvqWorkers = (count: number) => () =>
    Promise.all(
      Array.from({ length: count }, () =>
        launch('dist/bin/kvq.js', ['worker'], { ...env, WORKER_CONCURRENCY: String(CONCURRENCY) }),
      ),
    );
  await fillKvq();
  const applied1 = await drainRate(kvqQueue, DRAIN_JOBS, kvqWorkers(1));
  await fillKvq();
  const applied2 = await drainRate(kvqQueue, DRAIN_JOBS, kvqWorkers(2));
  const bareQueue = new Queue('bare', { connection: { url: queueRedis.url } });
  const bareBacklog = singleQueue(bareQueue);
  const fillBare = async () => {
    for (let i = 0; i < DRAIN_JOBS; i += 1000) {
      await bareQueue.addBulk(
        Array.from({ length: Math.min(1000, DRAIN_JOBS - i) }, (_, j) => ({
          name: 'set',
          data: { key: `d${String((i + j) % 5000)}`, value: body },
        })),
      );
    }
  };
  const rawWorkers =
    (count: number, receipts = false) =>
    () =>
      Promise.all(
        Array.from({ length: count }, () =>
          launch('bench/baselines/raw-worker.ts', [], {
            ...env,
            QUEUE_NAME: 'bare',
            WORKER_CONCURRENCY: String(CONCURRENCY),
            RAW_RECEIPTS: receipts ? '1' : '0',
          }),
        ),
      );
  await fillBare();
  const appliedRaw = await drainRate(bareBacklog, DRAIN_JOBS, rawWorkers(1));
  await fillBare();
  const appliedRaw2 = await drainRate(bareBacklog, DRAIN_JOBS, rawWorkers(2));
  await fillBare();
  const appliedChain = await drainRate(bareBacklog, DRAIN_JOBS, rawWorkers(1, true));
  await bareQueue.close();
  console.error(
    `applied: 1w ${applied1.opsPerSec.toFixed(0)}/s, 2w ${applied2.opsPerSec.toFixed(0)}/s, raw ${appliedRaw.opsPerSec.toFixed(0)}/s, raw 2w ${appliedRaw2.opsPerSec.toFixed(0)}/s, raw receipt chain ${appliedChain.opsPerSec.toFixed(0)}/s`,
  );

  // 4. Accept → visible latency. First the stack's sustained write rate with writes and applies
  //    running together (2 workers, writes driven flat out until the backlog stops draining),
  //    then an open-loop load at half of it; latency = appliedAt - acceptedAt from the receipts
  //    (both Redis clocks on one host), i.e. when a read could first see the write.
  await qr.flushall();
  const workers = await kvqWorkers(2)();
  const sustainStart = performance.now();
  const flat = await loadAt(kvq, { method: 'PUT', prefix: '/v1/keys/s', keys: 5000, body });
  while ((await kvqQueue.backlog()) > 0) await new Promise((r) => setTimeout(r, 50));
  const sustained = (flat.rps * DURATION * 1000) / (performance.now() - sustainStart);
  const half = Math.max(50, Math.floor(sustained / 2));
  await qr.flushall();
  const { achieved, since } = await paced(kvq, half, body);
  await new Promise((r) => setTimeout(r, 2000));
  const lat: number[] = [];
  for (let i = 0; i < layout.count; i++) {
    let cursor = '0';
    do {
      const [next, keys] = await qr.scan(cursor, 'MATCH', layout.queue(i).op('*'), 'COUNT', 1000);
      cursor = next;
      const p = qr.pipeline();
      for (const k of keys) p.hmget(k, 'acceptedAt', 'appliedAt', 'status');
      for (const [, row] of (await p.exec()) ?? []) {
        const [a, b, st] = row as [string | null, string | null, string | null];
        if (st === 'applied' && a && b && Number(a) >= since) lat.push(Number(b) - Number(a));
      }
    } while (cursor !== '0');
  }
  lat.sort((x, y) => x - y);
  const pct = (q: number) => lat[Math.min(lat.length - 1, Math.floor(q * lat.length))] ?? NaN;
  const visible = {
    p50: pct(0.5),
    p99: pct(0.99),
    max: lat.at(-1) ?? NaN,
    rate: half,
    sustained,
    achieved,
    samples: lat.length,
  };
  await Promise.all(workers.map(stop));
  const apiRssEnd = rssMb(api);
  await stop(api);
  await kvqQueue.close();
  qr.disconnect();
  dr.disconnect();

  // 5. Memory per key in the data Redis.
  const mem = await bytesPerKey(MEMORY_KEYS, 32);

  const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}×`;
  const f = (x: number) => x.toFixed(0);
  const check = (ok: boolean) => (ok ? 'met' : '**missed**');
  const rows = [
    [
      'reads: GET /v1/keys/{key} req/s',
      f(readKvq.rps),
      f(readBare.rps),
      ratio(readKvq.rps, readBare.rps),
      '≥ 0.8×',
      check(readKvq.rps >= 0.8 * readBare.rps),
    ],
    [
      'reads: p50 / p99 latency (ms)',
      `${String(readKvq.p50)} / ${String(readKvq.p99)}`,
      `${String(readBare.p50)} / ${String(readBare.p99)}`,
      '',
      '',
      '',
    ],
    [
      'accepted writes: PUT (202) req/s',
      f(acceptKvq.rps),
      f(acceptBare.rps),
      ratio(acceptKvq.rps, acceptBare.rps),
      '≥ 0.8×',
      check(acceptKvq.rps >= 0.8 * acceptBare.rps),
    ],
    [
      'reference: the bare add route with a per-key version and an op id (HINCRBY + the job in one write; no validation, no receipt; no target)',
      f(acceptKvq.rps),
      f(acceptFloor.rps),
      `floor itself: ${floorRatio.toFixed(2)}× of the bare add route (kvq: ${ratio(acceptKvq.rps, acceptBare.rps)})`,
      '',
      '',
    ],
    [
      'accepted writes: p50 / p99 latency (ms)',
      `${String(acceptKvq.p50)} / ${String(acceptKvq.p99)}`,
      `${String(acceptBare.p50)} / ${String(acceptBare.p99)}`,
      '',
      '',
      '',
    ],
    [
      `applied writes/s, 1 worker process (machine CPU busy: kvq ${f(applied1.busy)} %, raw ${f(appliedRaw.busy)} %)`,
      f(applied1.opsPerSec),
      f(appliedRaw.opsPerSec),
      ratio(applied1.opsPerSec, appliedRaw.opsPerSec),
      '≥ 0.8×',
      check(applied1.opsPerSec >= 0.8 * appliedRaw.opsPerSec),
    ],
    [
      'reference: raw loop with the least a receipt design needs (read receipt → SET → write receipt, plain commands; no target)',
      f(applied1.opsPerSec),
      f(appliedChain.opsPerSec),
      `${ratio(applied1.opsPerSec, appliedChain.opsPerSec)} (floor itself: ${ratio(appliedChain.opsPerSec, appliedRaw.opsPerSec)} of the raw loop)`,
      '',
      '',
    ],
    [
      `applied writes/s, 2 worker processes (baseline: 2 raw loops; CPU busy ${f(applied2.busy)} % / ${f(appliedRaw2.busy)} %)`,
      f(applied2.opsPerSec),
      f(appliedRaw2.opsPerSec),
      `${ratio(applied2.opsPerSec, applied1.opsPerSec)} of 1 worker (raw: ${ratio(appliedRaw2.opsPerSec, appliedRaw.opsPerSec)})`,
      '> 1×',
      check(applied2.opsPerSec > applied1.opsPerSec),
    ],
    [
      `accept → visible at ${String(visible.rate)} writes/s, half of the ${visible.sustained.toFixed(0)}/s sustained (reached ${visible.achieved.toFixed(0)}): p50 / p99 / max (ms)`,
      `${String(visible.p50)} / ${String(visible.p99)} / ${String(visible.max)}`,
      '',
      '',
      'p99 ≤ 25 ms',
      check(visible.p99 <= 25),
    ],
    ['API RSS at the end (MB)', f(apiRssEnd), '', '', '≤ 150 MB', check(apiRssEnd <= 150)],
    [
      'RSS right after the accepted-writes phase (MB; baseline: the bare add route, Node defaults)',
      f(apiRss),
      f(bareAddRss),
      '',
      '',
      '',
    ],
    [
      'worker RSS at the end of a drain (MB)',
      f(Math.max(applied1.workerRssMb, applied2.workerRssMb)),
      f(appliedRaw.workerRssMb),
      '',
      '',
      '',
    ],
    [
      `data-Redis bytes per key (${String(MEMORY_KEYS)} keys, 32-byte values)`,
      f(mem.kvq),
      f(mem.plain),
      ratio(mem.kvq, mem.plain),
      '',
      '',
    ],
  ];
  const errors = readKvq.errors + readBare.errors + acceptKvq.errors + acceptBare.errors;
  const table = [
    '| measure | kvq | baseline | ratio | target | |',
    '| --- | ---: | ---: | ---: | --- | --- |',
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');
  console.log(
    `\n${machine()}\n\n${table}\n\nHTTP errors/timeouts: ${String(errors)}; latency samples: ${String(visible.samples)}`,
  );
  if (!SMOKE || args.out) {
    const out = args.out ?? join(root, 'BENCHMARKS.md');
    const previous = (() => {
      try {
        return readFileSync(out, 'utf8');
      } catch {
        return '';
      }
    })();
    const notes = /<!-- notes -->[\s\S]*$/.exec(previous)?.[0] ?? '<!-- notes -->\n';
    writeFileSync(
      out,
      `# Benchmarks\n\nGenerated by \`npm run bench\` on ${new Date().toISOString().slice(0, 10)}: ${machine()}.\n` +
        `Loopback only; kvq and every baseline run as separate processes against the same two redis-server\n` +
        `processes (no persistence), loaded by ${WRK ? 'wrk' : 'autocannon'} (${String(CONNECTIONS)} connections, ${String(DURATION)} s per HTTP phase;\n` +
        `reads and accepted writes: one warm-up run each, then kvq, baseline, baseline, kvq, averaged)\n` +
        `from the benchmark process, which shares the 2 cores with the servers.\n\n` +
        `kvq runs from its build (\`dist/\`) as in its pods: ${KVQ_NODE_OPTIONS ? `NODE_OPTIONS=\`${KVQ_NODE_OPTIONS}\` (the image's options, plus the old space Node picks under the Deployments' memory limit, which a host without that limit lacks)` : 'Node defaults'}; the baselines with Node defaults.\n\n` +
        `Baselines: a bare Hono + ioredis route doing one GET; a bare Hono route doing only \`queue.add\`;\n` +
        `the same add route also taking a per-key version (HINCRBY) and an op id in the same write, as a reference with no target;\n` +
        `a raw BullMQ worker (concurrency ${String(CONCURRENCY)}, one SET per job) draining ${String(DRAIN_JOBS)} jobs, as kvq's workers do;\n` +
        `and, as a reference with no target, the same raw loop doing in sequence what any worker with receipts and a version read at apply time must: read the receipt, SET, write the receipt.\n\n` +
        `${table}\n\nHTTP errors/timeouts during the run: ${String(errors)}.\n\n${notes}`,
    );
    console.log(`wrote ${out}`);
  }
} finally {
  await stopAll();
  for (const s of servers) await s.stop();
  rmSync(dir, { recursive: true, force: true });
}
