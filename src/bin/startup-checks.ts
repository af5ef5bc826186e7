import { connect, createServer } from 'node:net';

import { type HostPort, parseRedisUrl } from '../core/index.ts';

/**
 * Checks `kvq dev` makes before it starts anything, each failing with one line that says what
 * to change (rather than a stack trace from deep inside a client library).
 */
export class StartupError extends Error {}

/** Lookup failures of a HOST that is neither an address nor a name that resolves. */
const UNRESOLVABLE = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_NONAME', 'EAI_FAIL']);

/** Throws a StartupError naming the port and PORT/HOST when `host:port` cannot be listened on. */
export function checkPortFree(host: string, port: number): Promise<void> {
  if (port === 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', (err: NodeJS.ErrnoException) => {
      const code = err.code ?? err.message;
      if (UNRESOLVABLE.has(code)) {
        reject(
          new StartupError(
            `HOST "${host}" is not an address or a name that resolves (${code}); set HOST to a local address, e.g. HOST=127.0.0.1`,
          ),
        );
        return;
      }
      const why =
        code === 'EADDRINUSE'
          ? 'is already in use'
          : code === 'EACCES'
            ? 'needs privileges to listen on'
            : code === 'EADDRNOTAVAIL'
              ? 'is on an address this machine does not have'
              : `cannot be listened on (${code})`;
      const fix =
        code === 'EADDRNOTAVAIL'
          ? 'set HOST to a local address, e.g. HOST=127.0.0.1'
          : code === 'EADDRINUSE' || code === 'EACCES'
            ? 'set PORT to a free port, e.g. PORT=8081'
            : 'check HOST and PORT';
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

/** `PING` as a RESP array: what any Redis, Sentinel or cluster node answers, even before AUTH. */
const PING = '*1\r\n$4\r\nPING\r\n';
/** The first byte of every RESP2/RESP3 reply (`+PONG`, `-NOAUTH …`, …). */
const RESP_TYPE_BYTES = new Set('+-:$*_,#!=(%~>|');

/**
 * Why `host:port` is no usable Redis (ECONNREFUSED, no answer to PING, not a Redis server), or
 * null if it answers PING in RESP. Over TLS (rediss://) only the TCP connection is checked.
 */
function redisProbe(
  { host, port }: HostPort,
  timeoutMs: number,
  tls: boolean,
): Promise<string | null> {
  return new Promise((resolve) => {
    const sock = connect({ host, port });
    let connected = false;
    let settled = false;
    const done = (cause: string | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(cause);
    };
    const timer = setTimeout(() => {
      done(connected ? `no answer to PING within ${String(timeoutMs)} ms` : 'ETIMEDOUT');
    }, timeoutMs);
    sock.once('connect', () => {
      connected = true;
      if (tls) done(null);
      else sock.write(PING);
    });
    sock.once('data', (d: Buffer) => {
      done(RESP_TYPE_BYTES.has(String.fromCharCode(d[0] ?? 0)) ? null : 'not a Redis server');
    });
    sock.once('close', () => {
      done('closed the connection without answering PING');
    });
    sock.once('error', (err: NodeJS.ErrnoException) => {
      done(err.code ?? err.message);
    });
  });
}

/**
 * Throws a StartupError (host:port and cause, never the password) when none of the URL's
 * endpoints answers PING as a Redis does: refused, silent, or something else on the port.
 * `name` is the variable that holds the URL.
 */
export async function checkRedisReachable(
  which: string,
  name: string,
  url: string,
  timeoutMs: number,
): Promise<void> {
  const endpoints = endpointsOf(url);
  const tls = /^rediss/i.test(url);
  const causes = await Promise.all(endpoints.map((e) => redisProbe(e, timeoutMs, tls)));
  if (causes.some((c) => c === null)) return;
  const where = endpoints.map(
    (e) => `${e.host.includes(':') ? `[${e.host}]` : e.host}:${String(e.port)}`,
  );
  throw new StartupError(
    `${which} Redis at ${where.join(',')} is unreachable (${[...new Set(causes)].join(', ')}); check ${name}`,
  );
}
