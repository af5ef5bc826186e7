import { spawn } from 'node:child_process';
import { join } from 'node:path';

import {
  alive,
  ask,
  askAny,
  HOST,
  inSync,
  ownDir,
  stopServer,
  waitUntil,
} from './local-node-control.ts';
import { type RedisServer, type RedisServerOptions, startRedisServer } from './local-servers.ts';

/**
 * A local Redis Cluster for tests, chaos and `kvq dev --topology cluster`: redis-server children
 * on loopback and free ports (see local-servers.ts), joined by `redis-cli --cluster create`,
 * ended by PID. It can say which node serves a slot now and restart a node (killed or stopped for
 * a fault) so that it rejoins.
 */

export interface LocalCluster {
  /** `redis+cluster://127.0.0.1:p1,…` listing every node. */
  url: string;
  /** Every node, primaries and replicas (restart replaces an entry with the new process). */
  nodes: RedisServer[];
  dir: string;
  /** The nodes that serve slots now. */
  primaries(): Promise<RedisServer[]>;
  /** The node serving a slot (a number) or a key's slot (a string) now. */
  primaryOf(slotOrKey: number | string): Promise<RedisServer>;
  /**
   * Ends `node` (SIGTERM by default; a no-op if it is already dead) and starts it again on its
   * port and directory; it rejoins from its nodes.conf (as a replica if it was failed over).
   * Resolves once the cluster is whole again.
   */
  restart(node: RedisServer, signal?: NodeJS.Signals): Promise<RedisServer>;
  stop(): Promise<void>;
}

function runRedisCli(args: string[], ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('redis-cli', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), ms);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`redis-cli ${args.slice(0, 2).join(' ')} failed: ${out.trim()}`));
    });
  });
}

export interface LocalClusterOptions {
  primaries?: number;
  replicasPer?: number;
  /** Where the nodes keep nodes.conf and logs; a temporary directory (removed on stop) if unset. */
  dir?: string;
  /** Extra redis-server arguments for every node, e.g. `['--maxmemory', '64mb']`. */
  extraConfig?: string[];
  /** How long a primary may be unreachable before its replica takes over. */
  nodeTimeoutMs?: number;
  /** Called with each node's pid as soon as it is spawned (see RedisServerOptions). */
  onSpawn?: (pid: number) => void;
}

/** A Redis Cluster of `primaries` × (1 + `replicasPer`) nodes, built with `redis-cli --cluster`. */
export async function startRedisCluster(opts: LocalClusterOptions = {}): Promise<LocalCluster> {
  const primaries = opts.primaries ?? 3;
  const replicasPer = opts.replicasPer ?? 1;
  const { dir, remove } = ownDir(opts.dir, 'kvq-cluster-');
  const nodeOpts = (i: number): RedisServerOptions => ({
    dir: join(dir, `node-${String(i)}`),
    appendonly: false,
    ...(opts.onSpawn === undefined ? {} : { onSpawn: opts.onSpawn }),
    extraArgs: [
      ...['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf'],
      ...['--cluster-node-timeout', String(opts.nodeTimeoutMs ?? 2000)],
      ...(opts.extraConfig ?? []),
    ],
  });
  const started = await Promise.allSettled(
    Array.from({ length: primaries * (1 + replicasPer) }, (_, i) => startRedisServer(nodeOpts(i))),
  );
  const nodes = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const optsOf = new Map(nodes.map((n, i) => [n, nodeOpts(i)]));
  const ports = () => nodes.filter(alive).map((n) => n.port);
  const byPort = (port: number) => {
    const node = nodes.find((n) => n.port === port);
    if (!node) throw new Error(`no local cluster node on port ${String(port)}`);
    return node;
  };
  const whole = async () => {
    for (const n of nodes.filter(alive)) {
      const info = String(await ask(n.port, 'CLUSTER', 'INFO'));
      const known = new RegExp(`cluster_known_nodes:${String(nodes.length)}\\b`);
      if (!info.includes('cluster_state:ok') || !known.test(info)) return false;
      if (!(await inSync(n.port))) return false;
    }
    return true;
  };
  const slots = async () =>
    (await askAny(ports(), 'CLUSTER', 'SLOTS')) as [number, number, [string, number]][];
  const stop = async () => {
    await Promise.all(nodes.map((n) => stopServer(n)));
    remove();
  };
  try {
    const failed = started.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
    await runRedisCli(
      [
        ...['--cluster', 'create', ...nodes.map((n) => `${HOST}:${String(n.port)}`)],
        ...['--cluster-replicas', String(replicasPer), '--cluster-yes'],
      ],
      30_000,
    );
    await waitUntil('every cluster node says cluster_state:ok, replicas in sync', 30_000, whole);
  } catch (e) {
    await stop();
    throw e;
  }

  return {
    url: `redis+cluster://${nodes.map((n) => `${HOST}:${String(n.port)}`).join(',')}`,
    nodes,
    dir,
    async primaries() {
      return [...new Set((await slots()).map((s) => s[2][1]))].map(byPort);
    },
    async primaryOf(slotOrKey) {
      const slot =
        typeof slotOrKey === 'number'
          ? slotOrKey
          : Number(await askAny(ports(), 'CLUSTER', 'KEYSLOT', slotOrKey));
      const range = (await slots()).find(([from, to]) => slot >= from && slot <= to);
      if (!range) throw new Error(`slot ${String(slot)} is not served`);
      return byPort(range[2][1]);
    },
    async restart(node, signal) {
      const i = nodes.indexOf(node);
      const options = optsOf.get(node);
      if (i < 0 || !options) throw new Error('not a node of this cluster');
      await stopServer(node, signal);
      const next = await startRedisServer({ ...options, port: node.port });
      nodes[i] = next;
      optsOf.set(next, options);
      await waitUntil('the restarted node rejoins a whole cluster', 30_000, whole);
      return next;
    },
    stop,
  };
}
