import { execFile, spawnSync } from 'node:child_process';
import { connect } from 'node:net';

import { freePort } from './local-servers.ts';

/**
 * `kvq dev` without redis-server on PATH: a Redis in a container of a running engine (Docker,
 * else Podman), published on a free loopback port only. The container is removed on stop.
 */

/** Tried in this order; the first whose daemon (or, for Podman, runtime) answers is used. */
export const CONTAINER_ENGINES = ['docker', 'podman'] as const;
/** The official image, fully qualified so that Podman needs no registry search list. */
export const REDIS_IMAGE = 'docker.io/library/redis:7.4';

/** The first engine whose `info` succeeds within a few seconds, or undefined. */
export function findContainerEngine(): string | undefined {
  for (const engine of CONTAINER_ENGINES) {
    const r = spawnSync(engine, ['info'], { stdio: 'ignore', timeout: 10_000 });
    if (r.status === 0) return engine;
  }
  return undefined;
}

export interface RedisContainer {
  url: string;
  port: number;
  name: string;
  stop(): Promise<void>;
}

export class ContainerStartError extends Error {}

function run(engine: string, args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(engine, args, { timeout: timeoutMs }, (err, stdout, stderr) => {
      if (!err) {
        resolve(stdout);
        return;
      }
      // The engine's own last words (e.g. why a pull failed), on one line.
      const said = stderr.trim().split('\n').filter(Boolean).pop();
      reject(new ContainerStartError(said ?? err.message));
    });
  });
}

function pong(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1');
    let buf = '';
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(500, () => {
      done(false);
    });
    sock.on('error', () => {
      done(false);
    });
    sock.on('close', () => {
      done(buf.startsWith('+PONG'));
    });
    sock.on('connect', () => sock.write('PING\r\n'));
    sock.on('data', (d) => {
      buf += d.toString();
      if (buf.includes('\r\n')) done(buf.startsWith('+PONG'));
    });
  });
}

/**
 * Starts `REDIS_IMAGE` as container `name` on a free 127.0.0.1 port and waits for PONG; the image
 * is pulled if missing (which can take a while). Rejects with a ContainerStartError carrying the
 * engine's message; a container that was created is removed again.
 */
export async function startRedisContainer(opts: {
  engine: string;
  name: string;
  noeviction?: boolean;
  readyTimeoutMs?: number;
}): Promise<RedisContainer> {
  const { engine, name } = opts;
  const port = await freePort();
  const remove = () => run(engine, ['rm', '-f', name], 30_000).then(() => undefined);
  await run(
    engine,
    [
      ...['run', '-d', '--rm', '--name', name, '-p', `127.0.0.1:${String(port)}:6379`],
      REDIS_IMAGE,
      ...['redis-server', '--appendonly', 'yes', '--save', ''],
      ...(opts.noeviction ? ['--maxmemory-policy', 'noeviction'] : []),
    ],
    300_000,
  ).catch(async (err: unknown) => {
    // A container may exist even though `run` failed (created, then not started).
    await remove().catch(() => undefined);
    throw err;
  });
  const deadline = Date.now() + (opts.readyTimeoutMs ?? 30_000);
  while (!(await pong(port))) {
    if (Date.now() > deadline) {
      await remove().catch(() => undefined);
      throw new ContainerStartError(
        `container ${name} did not answer PING on port ${String(port)}`,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url: `redis://127.0.0.1:${String(port)}`, port, name, stop: remove };
}
