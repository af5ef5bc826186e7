import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { resolve } from 'node:path';

/**
 * Spawns and stops local redis-server processes on loopback. Used by `kvq dev`, the tests, the
 * property test and the benchmark. Only ever ends processes it started, by PID.
 */

export const REDIS_INSTALL_HINT =
  'redis-server not found on PATH: install it (Debian/Ubuntu: sudo apt-get install -y redis-server; ' +
  'macOS: brew install redis) or run one with `docker run -p 6379:6379 redis:7` and set ' +
  'QUEUE_REDIS_URL and KV_REDIS_URL';

export function redisServerAvailable(bin = 'redis-server'): boolean {
  const r = spawnSync(bin, ['--version'], { stdio: 'ignore' });
  return r.status === 0;
}

/** A free TCP port on 127.0.0.1 (asks the OS, so no guessing at ranges other processes use). */
export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => {
        res(port);
      });
    });
  });
}

export interface RedisServerOptions {
  dir: string;
  port?: number;
  appendonly?: boolean;
  appendfsync?: 'always' | 'everysec' | 'no';
  noeviction?: boolean;
  /**
   * A config file given before the other arguments (a Sentinel needs one it can rewrite); the
   * command-line arguments override it.
   */
  configFile?: string;
  /** `requirepass`: the server asks for it, and the start-up check gives it. */
  password?: string;
  /** Extra redis-server arguments, e.g. `--cluster-enabled yes`, `--replicaof h p`, `--sentinel`. */
  extraArgs?: string[];
  /**
   * Called with the child's pid as soon as it is spawned, before it answers: a watchdog
   * (child-watchdog.ts) can then end it even if this process dies during start-up.
   */
  onSpawn?: (pid: number) => void;
}

export interface RedisServer {
  port: number;
  url: string;
  dir: string;
  pid: number;
  child: ChildProcess;
  /** SIGTERM (or SIGKILL) this server and wait for it to exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /**
   * Stop (SIGTERM by default, which fsyncs the AOF; SIGKILL to simulate a crash), then start again
   * on the same port and directory (the AOF is reloaded when enabled).
   */
  restart(signal?: NodeJS.Signals): Promise<RedisServer>;
}

/**
 * The process id of the Redis answering on `port` (from `INFO server`), or null while nothing
 * answers yet or it is still loading. Compared with the child's pid, so that a port taken by
 * another process in the gap of a restart is an error rather than a silent stand-in.
 */
function answeringPid(port: number, password?: string): Promise<number | null> {
  return new Promise((res) => {
    const sock = connect(port, '127.0.0.1');
    let buf = '';
    const done = (pid: number | null) => {
      sock.destroy();
      res(pid);
    };
    sock.setTimeout(500, () => {
      done(null);
    });
    sock.on('error', () => {
      done(null);
    });
    sock.on('connect', () =>
      sock.write(
        password === undefined
          ? 'INFO server\r\n'
          : resp('AUTH', password) + resp('INFO', 'server'),
      ),
    );
    sock.on('data', (d) => {
      buf += d.toString();
      if (password !== undefined && buf.startsWith('+OK\r\n')) buf = buf.slice(5);
      if (buf.startsWith('-')) {
        if (buf.includes('\r\n')) done(null); // -LOADING and the like: not ready
        return;
      }
      const pid = /process_id:(\d+)\r\n/.exec(buf);
      if (pid) done(Number(pid[1]));
    });
  });
}

/** A command in RESP, so that an argument may hold spaces. */
function resp(...args: string[]): string {
  return `*${String(args.length)}\r\n${args.map((a) => `$${String(Buffer.byteLength(a))}\r\n${a}\r\n`).join('')}`;
}

export async function startRedisServer(opts: RedisServerOptions): Promise<RedisServer> {
  const dir = resolve(opts.dir);
  mkdirSync(dir, { recursive: true });
  const port = opts.port ?? (await freePort());
  const args = [
    ...(opts.configFile === undefined ? [] : [resolve(opts.configFile)]),
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--save',
    '',
    '--appendonly',
    opts.appendonly === false ? 'no' : 'yes',
    '--appendfsync',
    opts.appendfsync ?? 'everysec',
    '--logfile',
    resolve(dir, 'redis.log'),
    '--daemonize',
    'no',
    ...(opts.noeviction ? ['--maxmemory-policy', 'noeviction'] : []),
    ...(opts.password === undefined ? [] : ['--requirepass', opts.password]),
    ...(opts.extraArgs ?? []),
  ];
  // Its own process group: a Ctrl-C in the terminal reaches only the parent, which stops its
  // children once it no longer needs them (instead of draining against a dead Redis).
  const child = spawn('redis-server', args, { stdio: 'ignore', detached: true });
  if (child.pid !== undefined) opts.onSpawn?.(child.pid);
  const exited = new Promise<void>((res) => child.once('exit', () => res()));
  const spawnError = new Promise<never>((_, rej) => child.once('error', rej));
  const deadline = Date.now() + 10_000;
  for (;;) {
    const up = await Promise.race([
      answeringPid(port, opts.password),
      spawnError,
      exited.then(() => 'exited' as const),
    ]);
    if (typeof up === 'number' && up === child.pid) break;
    if (typeof up === 'number') {
      child.kill('SIGKILL');
      throw new Error(
        `port ${String(port)} is held by another Redis (pid ${String(up)}), not the one started here`,
      );
    }
    if (up === 'exited')
      throw new Error(
        `redis-server on port ${String(port)} exited at start (see ${dir}/redis.log)`,
      );
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`redis-server on port ${String(port)} did not answer`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const pid = child.pid ?? -1;
  const server: RedisServer = {
    port,
    url: `redis://127.0.0.1:${String(port)}`,
    dir,
    pid,
    child,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      await exited;
    },
    async restart(signal: NodeJS.Signals = 'SIGTERM') {
      await server.stop(signal);
      return startRedisServer({ ...opts, port });
    },
  };
  return server;
}
