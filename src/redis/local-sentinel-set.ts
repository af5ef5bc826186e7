import { mkdirSync, writeFileSync } from 'node:fs';
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
 * A local primary, its replicas and Sentinels for tests, chaos and `kvq dev --topology sentinel`:
 * redis-server children on loopback and free ports (see local-servers.ts), ended by PID. It can
 * say which server is the primary now and restart a server (killed or stopped for a fault) so
 * that it rejoins as a replica.
 */

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
  /** The servers' `requirepass` (and `masterauth`); it goes into the returned URL. */
  password?: string;
  /** The Sentinels' own `requirepass` (what kvq's SENTINEL_PASSWORD is for); not in the URL. */
  sentinelPassword?: string;
  /** Called with each process's pid as soon as it is spawned (see RedisServerOptions). */
  onSpawn?: (pid: number) => void;
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
    ...(opts.onSpawn === undefined ? {} : { onSpawn: opts.onSpawn }),
    ...(opts.password === undefined ? {} : { password: opts.password }),
    extraArgs: [
      ...(opts.password === undefined ? [] : ['--masterauth', opts.password]),
      ...(opts.extraConfig ?? []),
      ...(replicaOf === undefined ? [] : ['--replicaof', HOST, String(replicaOf)]),
    ],
  });
  const server = (s: RedisServer) => ({ port: s.port, password: opts.password });
  const sentinel = (s: RedisServer) => ({ port: s.port, password: opts.sentinelPassword });
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
    const ports = sentinels.filter(alive).map(sentinel);
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
    for (const s of servers) await waitUntil('replicas in sync', 15_000, () => inSync(server(s)));
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
          ...(opts.password === undefined
            ? []
            : [`sentinel auth-pass ${masterName} ${opts.password}`]),
          '',
        ].join('\n'),
      );
      sentinels.push(
        await startRedisServer({
          dir: sdir,
          configFile: conf,
          appendonly: false,
          ...(opts.onSpawn === undefined ? {} : { onSpawn: opts.onSpawn }),
          ...(opts.sentinelPassword === undefined ? {} : { password: opts.sentinelPassword }),
          extraArgs: ['--sentinel'],
        }),
      );
    }
    await waitUntil('every Sentinel sees the primary, its replicas and the others', 20_000, () =>
      Promise.all(
        sentinels.map(async (s) => {
          const flat = (await ask(sentinel(s), 'SENTINEL', 'MASTER', masterName)) as string[];
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
    url:
      `redis+sentinel://${opts.password === undefined ? '' : `:${encodeURIComponent(opts.password)}@`}` +
      `${sentinels.map((s) => `${HOST}:${String(s.port)}`).join(',')}/${masterName}`,
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
      await waitUntil('the restarted server is in sync', 20_000, () => inSync(server(next)));
      return next;
    },
    stop,
  };
}
