import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Redis } from 'ioredis';

import { type RedisServer, type RedisServerOptions, startRedisServer } from './local-servers.ts';

/**
 * Local Redis Cluster and Sentinel topologies for tests, chaos and `kvq dev --topology`: plain
 * redis-server children on loopback and free ports (see local-servers.ts), ended by PID. Each
 * can say which node is the primary now and restart a node (killed or stopped for a fault) so that
 * it rejoins as a replica.
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

export interface LocalSentinelSet {
  /** `redis+sentinel://127.0.0.1:s1,…/<masterName>`. */
  url: string;
  masterName: string;
  /** The primary and its replicas (restart replaces an entry with the new process). */
  servers: RedisServer[];
  sentinels: RedisServer[];
  dir: string;
  /** The server the Sentinels name as primary now. */
  primary(): Promise<RedisServer>;
  /**
   * Ends `node` (SIGTERM by default; a no-op if it is already dead) and starts it again on its
   * port as a replica of the current primary (unless it still is the primary). Resolves once it
   * is in sync.
   */
  restart(node: RedisServer, signal?: NodeJS.Signals): Promise<RedisServer>;
  stop(): Promise<void>;
}

const HOST = '127.0.0.1';

/** One command to one node, on a short-lived connection that never retries. */
async function ask(port: number, ...args: (string | number)[]): Promise<unknown> {
  const conn = new Redis({
    host: HOST,
    port,
    lazyConnect: true,
    connectTimeout: 1000,
    commandTimeout: 1000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    protocol: 2,
  });
  conn.on('error', () => undefined);
  try {
    await conn.connect();
    const [name, ...rest] = args;
    return await conn.call(String(name), ...rest);
  } finally {
    conn.disconnect();
  }
}

/** `ask` each port in turn until one answers (a node may be dead or SIGSTOPped). */
async function askAny(ports: number[], ...args: (string | number)[]): Promise<unknown> {
  let last: unknown = new Error('no node to ask');
  for (const port of ports) {
    try {
      return await ask(port, ...args);
    } catch (e) {
      last = e;
    }
  }
  throw last;
}

async function waitUntil(what: string, ms: number, ok: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      if (await ok()) return;
    } catch {
      // not answering yet
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${String(ms)} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const alive = (s: RedisServer) => s.child.exitCode === null && s.child.signalCode === null;

/** SIGTERM (after a SIGCONT, in case a fault stopped it), SIGKILL if it lingers. */
async function stopServer(s: RedisServer, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (!alive(s)) return;
  s.child.kill('SIGCONT');
  const force = setTimeout(() => s.child.kill('SIGKILL'), 5000);
  await s.stop(signal);
  clearTimeout(force);
}

async function inSync(port: number): Promise<boolean> {
  const info = String(await ask(port, 'INFO', 'replication'));
  return info.includes('role:master') || info.includes('master_link_status:up');
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

function ownDir(dir: string | undefined, prefix: string): { dir: string; remove: () => void } {
  if (dir !== undefined) {
    mkdirSync(dir, { recursive: true });
    return { dir, remove: () => undefined };
  }
  const made = mkdtempSync(join(tmpdir(), prefix));
  return { dir: made, remove: () => rmSync(made, { recursive: true, force: true }) };
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
}

/** A Redis Cluster of `primaries` × (1 + `replicasPer`) nodes, built with `redis-cli --cluster`. */
export async function startRedisCluster(opts: LocalClusterOptions = {}): Promise<LocalCluster> {
  const primaries = opts.primaries ?? 3;
  const replicasPer = opts.replicasPer ?? 1;
  const { dir, remove } = ownDir(opts.dir, 'kvq-cluster-');
  const nodeOpts = (i: number): RedisServerOptions => ({
    dir: join(dir, `node-${String(i)}`),
    appendonly: false,
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

export interface LocalSentinelSetOptions {
  replicas?: number;
  sentinels?: number;
  masterName?: string;
  downAfterMs?: number;
  failoverTimeoutMs?: number;
  /** A temporary directory (removed on stop) if unset. */
  dir?: string;
  /** Extra redis-server arguments for the primary and replicas, e.g. min-replicas-to-write. */
  extraConfig?: string[];
}

/** A primary, its replicas and a quorum of Sentinels (a majority) watching them. */
export async function startSentinelSet(
  opts: LocalSentinelSetOptions = {},
): Promise<LocalSentinelSet> {
  const replicas = opts.replicas ?? 2;
  const sentinelCount = opts.sentinels ?? 3;
  const masterName = opts.masterName ?? 'kvq';
  const { dir, remove } = ownDir(opts.dir, 'kvq-sentinel-');
  const serverOpts = (i: number, replicaOf?: number): RedisServerOptions => ({
    dir: join(dir, `server-${String(i)}`),
    appendonly: false,
    extraArgs: [
      ...(opts.extraConfig ?? []),
      ...(replicaOf === undefined ? [] : ['--replicaof', HOST, String(replicaOf)]),
    ],
  });
  const servers: RedisServer[] = [];
  const sentinels: RedisServer[] = [];
  const optsOf = new Map<RedisServer, RedisServerOptions>();
  const stop = async () => {
    // Sentinels first, so that stopping the primary starts no failover.
    await Promise.all(sentinels.map((s) => stopServer(s)));
    await Promise.all(servers.map((s) => stopServer(s)));
    remove();
  };
  const primaryPort = async () => {
    const ports = sentinels.filter(alive).map((s) => s.port);
    const addr = (await askAny(ports, 'SENTINEL', 'get-master-addr-by-name', masterName)) as
      [string, string] | null;
    if (!addr) throw new Error(`no Sentinel knows master ${masterName}`);
    return Number(addr[1]);
  };
  try {
    const first = await startRedisServer(serverOpts(0));
    servers.push(first);
    optsOf.set(first, serverOpts(0));
    for (let i = 1; i <= replicas; i++) {
      const replica = await startRedisServer(serverOpts(i, first.port));
      servers.push(replica);
      optsOf.set(replica, serverOpts(i));
    }
    for (const s of servers) await waitUntil('replicas in sync', 15_000, () => inSync(s.port));
    const quorum = Math.floor(sentinelCount / 2) + 1;
    for (let i = 0; i < sentinelCount; i++) {
      const sdir = join(dir, `sentinel-${String(i)}`);
      mkdirSync(sdir, { recursive: true });
      const conf = join(sdir, 'sentinel.conf');
      writeFileSync(
        conf,
        [
          'sentinel resolve-hostnames no',
          `sentinel monitor ${masterName} ${HOST} ${String(first.port)} ${String(quorum)}`,
          `sentinel down-after-milliseconds ${masterName} ${String(opts.downAfterMs ?? 1000)}`,
          `sentinel failover-timeout ${masterName} ${String(opts.failoverTimeoutMs ?? 5000)}`,
          `sentinel parallel-syncs ${masterName} 1`,
          '',
        ].join('\n'),
      );
      sentinels.push(
        await startRedisServer({
          dir: sdir,
          configFile: conf,
          appendonly: false,
          extraArgs: ['--sentinel'],
        }),
      );
    }
    await waitUntil('every Sentinel sees the primary, its replicas and the others', 20_000, () =>
      Promise.all(
        sentinels.map(async (s) => {
          const flat = (await ask(s.port, 'SENTINEL', 'MASTER', masterName)) as string[];
          const field = (k: string) => flat[flat.indexOf(k) + 1];
          return (
            field('flags') === 'master' &&
            field('num-slaves') === String(replicas) &&
            field('num-other-sentinels') === String(sentinelCount - 1)
          );
        }),
      ).then((all) => all.every(Boolean)),
    );
  } catch (e) {
    await stop();
    throw e;
  }

  const byPort = (port: number) => {
    const server = servers.find((s) => s.port === port);
    if (!server) throw new Error(`no local server on port ${String(port)}`);
    return server;
  };
  return {
    url: `redis+sentinel://${sentinels.map((s) => `${HOST}:${String(s.port)}`).join(',')}/${masterName}`,
    masterName,
    servers,
    sentinels,
    dir,
    async primary() {
      return byPort(await primaryPort());
    },
    async restart(node, signal) {
      const i = servers.indexOf(node);
      const options = optsOf.get(node);
      if (i < 0 || !options) throw new Error('not a server of this Sentinel set');
      await stopServer(node, signal);
      const primary = await primaryPort();
      const next = await startRedisServer({
        ...options,
        port: node.port,
        extraArgs: [
          ...(options.extraArgs ?? []),
          ...(primary === node.port ? [] : ['--replicaof', HOST, String(primary)]),
        ],
      });
      servers[i] = next;
      optsOf.set(next, options);
      await waitUntil('the restarted server is in sync', 20_000, () => inSync(next.port));
      return next;
    },
    stop,
  };
}
