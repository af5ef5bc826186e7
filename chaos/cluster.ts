import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import { waitReady } from '../scripts/wait-ready.ts';
import { freePort, type RedisServer, startRedisServer } from '../src/redis/index.ts';

/**
 * A local kvq deployment for chaos runs: queue and data redis-server with AOF, N API and M worker
 * processes on loopback. Every process is started here and ended here, by PID.
 */

const KVQ = fileURLToPath(new URL('../src/bin/kvq.ts', import.meta.url));

export interface Member {
  role: 'api' | 'worker';
  index: number;
  port?: number;
  child: ChildProcess;
}

export interface Cluster {
  queue: RedisServer;
  data: RedisServer;
  apis: Member[];
  workers: Member[];
  apiUrls(): string[];
  /** SIGKILL a member by PID and start a replacement (an API keeps its port). */
  killAndRestart(m: Member): Promise<Member>;
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
}): Promise<Cluster> {
  const queue = await startRedisServer({
    dir: `${opts.dir}/queue`,
    noeviction: true,
    appendfsync: opts.fsync ?? 'everysec',
  });
  const data = await startRedisServer({
    dir: `${opts.dir}/data`,
    appendfsync: opts.fsync ?? 'everysec',
  });
  const env = () => ({
    ...process.env,
    QUEUE_REDIS_URL: cluster.queue.url,
    KV_REDIS_URL: cluster.data.url,
    LOG_LEVEL: 'error',
    WORKER_HEALTH_PORT: '0',
    ...opts.env,
  });

  function launch(role: 'api' | 'worker', index: number, port?: number): Member {
    const child = spawn(process.execPath, [KVQ, role], {
      env: { ...env(), ...(port ? { PORT: String(port), HOST: '127.0.0.1' } : {}) },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    return port === undefined ? { role, index, child } : { role, index, port, child };
  }

  const cluster: Cluster = {
    queue,
    data,
    apis: [],
    workers: [],
    apiUrls: () => cluster.apis.map((a) => `http://127.0.0.1:${String(a.port)}`),
    async killAndRestart(m) {
      const exited = new Promise((r) => m.child.once('exit', r));
      if (m.child.exitCode === null && m.child.signalCode === null) m.child.kill('SIGKILL');
      await exited;
      const next = launch(m.role, m.index, m.port);
      const list = m.role === 'api' ? cluster.apis : cluster.workers;
      list[m.index] = next;
      return next;
    },
    async restartRedis(which) {
      const server = which === 'queue' ? cluster.queue : cluster.data;
      const next = await server.restart(); // SIGTERM: Redis fsyncs the AOF and exits; then reload
      if (which === 'queue') cluster.queue = next;
      else cluster.data = next;
    },
    waitReady,
    async stop() {
      const all = [...cluster.apis, ...cluster.workers];
      await Promise.all(
        all.map(async (m) => {
          if (m.child.exitCode !== null || m.child.signalCode !== null) return;
          const exited = new Promise((r) => m.child.once('exit', r));
          m.child.kill('SIGTERM');
          const t = setTimeout(() => m.child.kill('SIGKILL'), 15_000);
          await exited;
          clearTimeout(t);
        }),
      );
      await Promise.all([cluster.queue.stop(), cluster.data.stop()]);
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
