import { isIPv6 } from 'node:net';

/**
 * Which Redis topology a URL names, and how to reach it. Pure: config.ts validates with it and
 * redis/clients.ts builds ioredis objects from it.
 *
 *   redis://…  rediss://…                                   standalone (ioredis parses the URL)
 *   redis+sentinel://[[user]:password@]host[:port][,host[:port]…]/<master-name>[?db=N]
 *   redis+cluster://[[user]:password@]host[:port][,host[:port]…]
 *
 * `rediss+…` is TLS (to the Sentinels and the servers alike). A host list is not a WHATWG URL
 * (`new URL` rejects the commas), so the part after the scheme is parsed here. The password in a
 * Sentinel URL is the Redis servers' (primary and replicas); the Sentinels' own comes from
 * SENTINEL_PASSWORD. Ports default to 26379 (Sentinel) and 6379 (cluster node).
 */

export interface HostPort {
  host: string;
  port: number;
}

export type RedisTarget =
  | { kind: 'standalone'; url: string }
  | {
      kind: 'sentinel';
      sentinels: HostPort[];
      masterName: string;
      password?: string;
      username?: string;
      db?: number;
      tls: boolean;
    }
  | { kind: 'cluster'; nodes: HostPort[]; password?: string; username?: string; tls: boolean };

export type RedisTopology = RedisTarget['kind'];

/** A URL that names no usable Redis. The message never contains the password. */
export class RedisUrlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RedisUrlError';
  }
}

const SCHEME = /^(rediss?)(?:\+(sentinel|cluster))?:\/\//i;
const HOSTNAME = /^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$/;
const DEFAULT_PORT = { sentinel: 26379, cluster: 6379 } as const;

export const REDIS_URL_FORMS =
  'redis://, rediss://, redis+sentinel://host:port[,host:port…]/<master-name> or ' +
  'redis+cluster://host:port[,host:port…]';

/** Parses a Redis URL into its topology; throws RedisUrlError naming what is wrong. */
export function parseRedisUrl(input: string): RedisTarget {
  const s = input.trim();
  const scheme = SCHEME.exec(s);
  if (!scheme) throw new RedisUrlError(`must be one of ${REDIS_URL_FORMS}`);
  const tls = scheme[1]?.toLowerCase() === 'rediss';
  const kind = scheme[2]?.toLowerCase() as 'sentinel' | 'cluster' | undefined;
  if (/\s/.test(s)) throw new RedisUrlError('must not contain whitespace');
  if (kind === undefined) {
    if (!URL.canParse(s)) throw new RedisUrlError('is not a valid redis:// or rediss:// URL');
    return { kind: 'standalone', url: s };
  }

  const rest = s.slice(scheme[0].length);
  if (rest.includes('#')) {
    throw new RedisUrlError(`a ${kind} URL takes no #fragment (in a password, write "#" as %23)`);
  }
  const authorityEnd = firstIndexOf(rest, ['/', '?']);
  const authority = rest.slice(0, authorityEnd);
  const pathAndQuery = rest.slice(authorityEnd);
  if (pathAndQuery.includes('@')) {
    // Most likely a password with a raw "/" or "?": say so without echoing any of it.
    throw new RedisUrlError(
      'has an "@" after the host list: percent-encode "/", "?", "#" and "@" in credentials ' +
        '(%2F, %3F, %23, %40)',
    );
  }
  const queryStart = pathAndQuery.indexOf('?');
  const path = queryStart < 0 ? pathAndQuery : pathAndQuery.slice(0, queryStart);
  const query = queryStart < 0 ? '' : pathAndQuery.slice(queryStart + 1);

  const at = authority.lastIndexOf('@');
  const credentials = at < 0 ? {} : parseUserinfo(authority.slice(0, at));
  const hosts = parseHostList(authority.slice(at + 1), DEFAULT_PORT[kind], kind);
  const params = parseQuery(query, kind);

  if (kind === 'cluster') {
    if (path !== '' && path !== '/') {
      throw new RedisUrlError(
        'a cluster has only database 0: a redis+cluster:// URL takes no /path',
      );
    }
    if (params.db !== undefined) {
      throw new RedisUrlError('a cluster has only database 0: ?db is not allowed');
    }
    return { kind, nodes: hosts, tls, ...credentials };
  }

  const masterName = decode(path.replace(/^\//, ''), 'the master name');
  if (masterName === '') {
    throw new RedisUrlError(
      'a redis+sentinel:// URL must end with /<master-name> (the name Sentinel monitors)',
    );
  }
  if (masterName.includes('/') || /[\s\p{Cc}]/u.test(masterName)) {
    throw new RedisUrlError(
      'the master name must be one path segment without spaces or control characters',
    );
  }
  return {
    kind,
    sentinels: hosts,
    masterName,
    tls,
    ...credentials,
    ...(params.db === undefined ? {} : { db: params.db }),
  };
}

function firstIndexOf(s: string, chars: string[]): number {
  const found = chars.map((c) => s.indexOf(c)).filter((i) => i >= 0);
  return found.length === 0 ? s.length : Math.min(...found);
}

function decode(s: string, what: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new RedisUrlError(`${what} has a malformed %-escape`);
  }
}

function parseUserinfo(userinfo: string): { username?: string; password?: string } {
  const colon = userinfo.indexOf(':');
  if (colon < 0) {
    throw new RedisUrlError(
      'credentials must be written ":password@" or "username:password@" (value not shown)',
    );
  }
  const username = decode(userinfo.slice(0, colon), 'the username');
  const password = decode(userinfo.slice(colon + 1), 'the password (value not shown)');
  return {
    ...(username === '' ? {} : { username }),
    ...(password === '' ? {} : { password }),
  };
}

function parseHostList(list: string, defaultPort: number, kind: string): HostPort[] {
  if (list === '') throw new RedisUrlError(`a ${kind} URL needs at least one host:port`);
  const entries = list.split(',');
  return entries.map((entry, i) => {
    const where = `host ${String(i + 1)} of ${String(entries.length)}`;
    if (entry === '') throw new RedisUrlError(`${where} is empty (stray comma?)`);
    let host: string;
    let portText: string | undefined;
    if (entry.startsWith('[')) {
      const close = entry.indexOf(']');
      if (close < 0) throw new RedisUrlError(`${where} ("${entry}") has no closing "]"`);
      host = entry.slice(1, close);
      const after = entry.slice(close + 1);
      if (after !== '' && !after.startsWith(':')) {
        throw new RedisUrlError(`${where} ("${entry}") has text after "]" that is not :port`);
      }
      portText = after === '' ? undefined : after.slice(1);
      if (!isIPv6(host)) throw new RedisUrlError(`${where}: "${host}" is not an IPv6 address`);
    } else {
      const parts = entry.split(':');
      if (parts.length > 2) {
        throw new RedisUrlError(`${where} ("${entry}"): write an IPv6 address as [addr]:port`);
      }
      host = parts[0] ?? '';
      portText = parts[1];
      if (!HOSTNAME.test(host)) {
        throw new RedisUrlError(`${where} ("${entry}") is not a hostname or IPv4 address`);
      }
    }
    return { host, port: portText === undefined ? defaultPort : parsePort(portText, where) };
  });
}

function parsePort(text: string, where: string): number {
  const port = /^\d{1,5}$/.test(text) ? Number(text) : NaN;
  if (!(port >= 1 && port <= 65535)) {
    throw new RedisUrlError(`${where}: port "${text}" is not an integer from 1 to 65535`);
  }
  return port;
}

function parseQuery(query: string, kind: string): { db?: number } {
  if (query === '') return {};
  const out: { db?: number } = {};
  for (const pair of query.split('&')) {
    const eq = pair.indexOf('=');
    const name = eq < 0 ? pair : pair.slice(0, eq);
    const value = eq < 0 ? '' : pair.slice(eq + 1);
    if (name !== 'db') {
      throw new RedisUrlError(`unknown parameter "${name}" in a ${kind} URL (known: db)`);
    }
    if (!/^\d{1,5}$/.test(value)) {
      throw new RedisUrlError(`?db must be a database number (0, 1, …), not "${value}"`);
    }
    out.db = Number(value);
  }
  return out;
}
