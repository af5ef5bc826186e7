import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import { waitReady } from '../scripts/wait-ready.ts';
import {
  freePort,
  type LocalCluster,
  type LocalSentinelSet,
  type RedisServer,
  startChildWatchdog,
  startRedisCluster,
  startRedisServer,
  startSentinelSet,
} from '../src/redis/index.ts';

/**
 * A local kvq deployment for chaos runs: the queue and the data Redis (standalone redis-server
 * with AOF, a primary + 2 replicas + 3 Sentinels each, or a 3+3 cluster each), N API and M worker
 * processes on loopback. Every process is started here and ended here, by PID; a watchdog ends
 * them if the run itself is interrupted or killed.
 */

export type Topology = 'standalone' | 'sentinel' | 'cluster';

/** One of the two Redis of the deployment, whatever its topology. */
export interface RedisRole {
  url: string;
  /** Standalone only: the server (replaced by restartStandalone). */
  server: RedisServer | undefined;
  restartStandalone(signal?: NodeJS.Signals): Promise<RedisServer>;
  /**
   * Fails the primary that holds partition 0's slot (any primary of a Sentinel set): SIGKILL
   * (restarted once a replica took over, so it rejoins as a replica) or SIGSTOP (resumed once a
   * replica took over: a stalled primary, demoted on return). Resolves with what happened once
   * the failover is complete and the old primary is back as a replica.
   */
  failPrimary(
    signal: 'SIGKILL' | 'SIGSTOP',
    slotKey: string,
    onFailed?: () => void,
  ): Promise<string>;
  stop(): Promise<void>;
}

const KVQ = fileURLToPath(new URL('../src/bin/kvq.ts', import.meta.url));

export interface Member {
  role: 'api' | 'worker';
  index: number;
  port?: number;
  child: ChildProcess;
}

export interface Cluster {
  topology: Topology;
  queue: RedisRole;
  data: RedisRole;
  apis: Member[];
  workers: Member[];
  apiUrls(): string[];
  /**
   * SIGKILL a member by PID (unless it has exited already) and start a replacement (an API keeps
   * its port).
   */
  killAndRestart(m: Member): Promise<Member>;
  /** Members that exited without being stopped or killed: role, index, exit code or signal. */
  readonly selfExits: string[];
  /** Standalone: SIGTERM and AOF reload. */
  restartRedis(which: 'queue' | 'data'): Promise<void>;
  waitReady(url: string, ms: number): Promise<boolean>;
  stop(): Promise<void>;
}

export async function startCluster(opts: {
  dir: string;
  apis: number;
  workers: number;
  env: Record<string, string>;
  fsync?: 'always' | 'everysec';
  topology?: Topology;
}): Promise<Cluster> {
  const topology = opts.topology ?? 'standalone';
  const watchdog = startChildWatchdog();
  const onSpawn = (pid: number) => {
    watchdog.watchPid(pid);
  };
  const [queue, data] = await Promise.all([
    startRole(topology, `${opts.dir}/queue`, { noeviction: true, fsync: opts.fsync, onSpawn }),
    startRole(topology, `${opts.dir}/data`, { noeviction: false, fsync: opts.fsync, onSpawn }),
  ]);
  const env = () => ({
    ...process.env,
    QUEUE_REDIS_URL: cluster.queue.url,
    KV_REDIS_URL: cluster.data.url,
    // CHAOS_LOG_LEVEL=warn shows the kvq processes' warnings (on stderr) when a run goes wrong.
    LOG_LEVEL: process.env.CHAOS_LOG_LEVEL ?? 'error',
    WORKER_HEALTH_PORT: '0',
    ...opts.env,
  });

  /** Children this harness signalled: their exits are expected. */
  const signalled = new WeakSet<ChildProcess>();
  function launch(role: 'api' | 'worker', index: number, port?: number): Member {
    const child = spawn(process.execPath, [KVQ, role], {
      env: { ...env(), ...(port ? { PORT: String(port), HOST: '127.0.0.1' } : {}) },
      // Their logs (stdout) only when CHAOS_LOG_LEVEL asks for them.
      stdio: ['ignore', process.env.CHAOS_LOG_LEVEL ? 'inherit' : 'ignore', 'inherit'],
    });
    if (child.pid !== undefined) watchdog.watchPid(child.pid);
    child.once('exit', (code, signal) => {
      if (signalled.has(child)) return;
      cluster.selfExits.push(
        `${role} ${String(index)} (pid ${String(child.pid)}) exited by itself: ${signal ?? `code ${String(code)}`}`,
      );
    });
    return port === undefined ? { role, index, child } : { role, index, port, child };
  }
  const running = (c: ChildProcess) => c.exitCode === null && c.signalCode === null;

  const cluster: Cluster = {
    topology,
    queue,
    data,
    apis: [],
    workers: [],
    apiUrls: () => cluster.apis.map((a) => `http://127.0.0.1:${String(a.port)}`),
    selfExits: [],
    async killAndRestart(m) {
      // A member that exited by itself has nothing left to kill (and no exit event to wait for).
      if (running(m.child)) {
        const exited = new Promise((r) => m.child.once('exit', r));
        signalled.add(m.child);
        m.child.kill('SIGKILL');
        await exited;
      }
      const next = launch(m.role, m.index, m.port);
      const list = m.role === 'api' ? cluster.apis : cluster.workers;
      list[m.index] = next;
      return next;
    },
    async restartRedis(which) {
      // SIGTERM: Redis fsyncs the AOF and exits; then reload.
      await cluster[which].restartStandalone();
    },
    waitReady,
    async stop() {
      const all = [...cluster.apis, ...cluster.workers];
      await Promise.all(
        all.map(async (m) => {
          if (!running(m.child)) return;
          const exited = new Promise((r) => m.child.once('exit', r));
          signalled.add(m.child);
          m.child.kill('SIGTERM');
          const t = setTimeout(() => m.child.kill('SIGKILL'), 15_000);
          await exited;
          clearTimeout(t);
        }),
      );
      await Promise.all([cluster.queue.stop(), cluster.data.stop()]);
      watchdog.close();
    },
  };

  for (let i = 0; i < opts.apis; i++) cluster.apis.push(launch('api', i, await freePort()));
  for (let i = 0; i < opts.workers; i++) cluster.workers.push(launch('worker', i));
  for (const url of cluster.apiUrls()) {
    if (!(await cluster.waitReady(url, 20_000)))
      throw new Error(`API at ${url} did not become ready`);
  }
  return cluster;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function startRole(
  topology: Topology,
  dir: string,
  opts: {
    noeviction: boolean;
    fsync: 'always' | 'everysec' | undefined;
    onSpawn: (pid: number) => void;
  },
): Promise<RedisRole> {
  const { onSpawn } = opts;
  if (topology === 'standalone') {
    let server = await startRedisServer({
      dir,
      noeviction: opts.noeviction,
      appendfsync: opts.fsync ?? 'everysec',
      onSpawn,
    });
    return {
      get url() {
        return server.url;
      },
      get server() {
        return server;
      },
      async restartStandalone(signal) {
        server = await server.restart(signal);
        return server;
      },
      failPrimary: () => Promise.reject(new Error('no replicas to fail over to (standalone)')),
      stop: () => server.stop(),
    };
  }
  // Replicas acknowledge writes (kvq's MIN_REPLICA_ACKS); an isolated primary stops taking them.
  const replicated = ['--min-replicas-to-write', '1', '--min-replicas-max-lag', '10'];
  const eviction = opts.noeviction ? ['--maxmemory-policy', 'noeviction'] : [];
  if (topology === 'sentinel') {
    const set = await startSentinelSet({
      dir,
      downAfterMs: 1000,
      failoverTimeoutMs: 3000,
      extraConfig: [...replicated, ...eviction],
      onSpawn,
    });
    return sentinelRole(set);
  }
  // Two replicas per primary: after a failover the promoted replica still has one, so its
  // partitions keep taking writes (min-replicas-to-write 1) before the old primary is back.
  const cluster = await startRedisCluster({
    dir,
    replicasPer: 2,
    nodeTimeoutMs: 1500,
    extraConfig: [...replicated, ...eviction],
    onSpawn,
  });
  return clusterRole(cluster);
}

const notStandalone = () => Promise.reject(new Error('not a standalone Redis'));

/**
 * Fails `old` with `signal`, waits until `primaryNow` names another server (at most 45 s), then
 * brings `old` back (a stopped one is resumed and restarted too, so that it rejoins as a replica
 * now rather than whenever its topology would demote it).
 */
async function failOver(
  old: RedisServer,
  signal: 'SIGKILL' | 'SIGSTOP',
  primaryNow: () => Promise<RedisServer>,
  restart: (node: RedisServer, signal: NodeJS.Signals) => Promise<RedisServer>,
  onFailed?: () => void,
): Promise<string> {
  const t0 = Date.now();
  old.child.kill(signal);
  onFailed?.();
  let promoted: RedisServer | undefined;
  while (Date.now() - t0 < 45_000) {
    await sleep(100);
    const p = await primaryNow().catch(() => undefined);
    if (p && p.port !== old.port) {
      promoted = p;
      break;
    }
  }
  const tookOver = ((Date.now() - t0) / 1000).toFixed(1);
  if (signal === 'SIGSTOP') old.child.kill('SIGCONT');
  await restart(old, signal === 'SIGSTOP' ? 'SIGTERM' : 'SIGKILL');
  if (!promoted) throw new Error(`no replica took over from :${String(old.port)} in 45 s`);
  return `${signal} primary :${String(old.port)}, :${String(promoted.port)} promoted after ${tookOver} s`;
}

function sentinelRole(set: LocalSentinelSet): RedisRole {
  return {
    url: set.url,
    server: undefined,
    restartStandalone: notStandalone,
    async failPrimary(signal, _slotKey, onFailed) {
      const old = await set.primary();
      return failOver(
        old,
        signal,
        () => set.primary(),
        (n, sig) => set.restart(n, sig),
        onFailed,
      );
    },
    stop: () => set.stop(),
  };
}

function clusterRole(cluster: LocalCluster): RedisRole {
  return {
    url: cluster.url,
    server: undefined,
    restartStandalone: notStandalone,
    async failPrimary(signal, slotKey, onFailed) {
      const old = await cluster.primaryOf(slotKey);
      return failOver(
        old,
        signal,
        () => cluster.primaryOf(slotKey),
        (n, sig) => cluster.restart(n, sig),
        onFailed,
      );
    },
    stop: () => cluster.stop(),
  };
}
