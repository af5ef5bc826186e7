import { connect, createServer } from 'node:net';

import { type HostPort, parseRedisUrl } from '../core/index.ts';

/**
 * Checks `kvq dev` makes before it starts anything, each failing with one line that says what
 * to change (rather than a stack trace from deep inside a client library).
 */
export class StartupError extends Error {}

/** Throws a StartupError naming the port and PORT/HOST when `host:port` cannot be listened on. */
export function checkPortFree(host: string, port: number): Promise<void> {
  if (port === 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', (err: NodeJS.ErrnoException) => {
      const why =
        err.code === 'EADDRINUSE'
          ? 'is already in use'
          : err.code === 'EACCES'
            ? 'needs privileges to listen on'
            : err.code === 'EADDRNOTAVAIL'
              ? 'is on an address this machine does not have'
              : `cannot be listened on (${err.code ?? err.message})`;
      const fix =
        err.code === 'EADDRNOTAVAIL'
          ? 'set HOST to a local address'
          : 'set PORT to a free port, e.g. PORT=8081';
      reject(new StartupError(`port ${String(port)} on ${host} ${why}; ${fix}`));
    });
    srv.listen(port, host, () => {
      srv.close(() => {
        resolve();
      });
    });
  });
}

/** The host:port a client connects to first for a Redis URL (the Sentinels', the seed nodes). */
export function endpointsOf(url: string): HostPort[] {
  const target = parseRedisUrl(url);
  if (target.kind === 'sentinel') return target.sentinels;
  if (target.kind === 'cluster') return target.nodes;
  const u = new URL(url);
  return [{ host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port || 6379) }];
}

/** Why nothing listens at `host:port` (an error code such as ECONNREFUSED), or null if it does. */
function tcpProbe({ host, port }: HostPort, timeoutMs: number): Promise<string | null> {
  return new Promise((resolve) => {
    const sock = connect({ host, port });
    const done = (cause: string | null) => {
      sock.destroy();
      resolve(cause);
    };
    sock.setTimeout(timeoutMs, () => {
      done('ETIMEDOUT');
    });
    sock.once('connect', () => {
      done(null);
    });
    sock.once('error', (err: NodeJS.ErrnoException) => {
      done(err.code ?? err.message);
    });
  });
}

/**
 * Throws a StartupError (host:port and cause, never the password) when none of the URL's
 * endpoints accepts a TCP connection. `name` is the variable that holds the URL.
 */
export async function checkRedisReachable(
  which: string,
  name: string,
  url: string,
  timeoutMs: number,
): Promise<void> {
  const endpoints = endpointsOf(url);
  const causes = await Promise.all(endpoints.map((e) => tcpProbe(e, timeoutMs)));
  if (causes.some((c) => c === null)) return;
  const where = endpoints.map(
    (e) => `${e.host.includes(':') ? `[${e.host}]` : e.host}:${String(e.port)}`,
  );
  throw new StartupError(
    `${which} Redis at ${where.join(',')} is unreachable (${[...new Set(causes)].join(', ')}); check ${name}`,
  );
}
