import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { parseRedisUrl, RedisUrlError } from './redis-url.ts';

describe('parseRedisUrl', () => {
  it('passes redis:// and rediss:// through as standalone', () => {
    for (const url of ['redis://127.0.0.1:6379', 'rediss://:pw@queue.example:6380/2']) {
      expect(parseRedisUrl(url)).toEqual({ kind: 'standalone', url });
    }
  });

  it('reads a Sentinel URL: hosts, master name, the servers’ credentials, db and TLS', () => {
    expect(
      parseRedisUrl('redis+sentinel://app:s3cret@10.0.0.1:26379,sent-b,[::1]:26380/kvq?db=3'),
    ).toEqual({
      kind: 'sentinel',
      sentinels: [
        { host: '10.0.0.1', port: 26379 },
        { host: 'sent-b', port: 26379 },
        { host: '::1', port: 26380 },
      ],
      masterName: 'kvq',
      username: 'app',
      password: 's3cret',
      db: 3,
      tls: false,
    });
    expect(parseRedisUrl('rediss+sentinel://h:1/m')).toEqual({
      kind: 'sentinel',
      sentinels: [{ host: 'h', port: 1 }],
      masterName: 'm',
      tls: true,
    });
  });

  it('reads a cluster URL', () => {
    expect(parseRedisUrl('redis+cluster://:pw@127.0.0.1:7000,127.0.0.1:7001/')).toEqual({
      kind: 'cluster',
      nodes: [
        { host: '127.0.0.1', port: 7000 },
        { host: '127.0.0.1', port: 7001 },
      ],
      password: 'pw',
      tls: false,
    });
    expect(parseRedisUrl('REDISS+CLUSTER://node')).toEqual({
      kind: 'cluster',
      nodes: [{ host: 'node', port: 6379 }],
      tls: true,
    });
  });

  it('decodes a percent-encoded password, including the characters that would end it', () => {
    const t = parseRedisUrl('redis+cluster://:p%40ss%2Fw%3Fo%23rd%2C%25@h:1');
    expect(t).toMatchObject({ password: 'p@ss/w?o#rd,%' });
    // A raw "@" or "," or ":" inside the password is fine too: the last "@" ends the credentials.
    expect(parseRedisUrl('redis+sentinel://:a@b,c:d@h:1/m')).toMatchObject({
      password: 'a@b,c:d',
      sentinels: [{ host: 'h', port: 1 }],
    });
  });

  it.each([
    ['http://x', /must be one of/],
    ['redis+sentinel:///kvq', /at least one host/],
    ['redis+cluster://', /at least one host/],
    ['redis+cluster://a:1,,b:2', /host 2 of 3 is empty/],
    ['redis+cluster://a:1,', /host 2 of 2 is empty/],
    ['redis+cluster://a:0', /port "0" is not an integer from 1 to 65535/],
    ['redis+cluster://a:65536', /port "65536"/],
    ['redis+cluster://a:x1', /port "x1"/],
    ['redis+cluster://a:', /port ""/],
    ['redis+cluster://a:1:2', /IPv6 address as \[addr\]:port/],
    ['redis+cluster://[::1', /no closing "\]"/],
    ['redis+cluster://[nope]:1', /not an IPv6 address/],
    ['redis+cluster://[::1]x', /not :port/],
    ['redis+cluster://a_b:1', /not a hostname/],
    ['redis+cluster://a:1/0', /only database 0/],
    ['redis+cluster://a:1?db=2', /only database 0/],
    ['redis+sentinel://a:1', /must end with \/<master-name>/],
    ['redis+sentinel://a:1/', /must end with \/<master-name>/],
    ['redis+sentinel://a:1/m/n', /one path segment/],
    ['redis+sentinel://a:1/m%20n', /one path segment/],
    ['redis+sentinel://a:1/m?db=x', /\?db must be a database number/],
    ['redis+sentinel://a:1/m?timeout=5', /unknown parameter "timeout"/],
    ['redis+sentinel://a:1/m#frag', /no #fragment/],
    ['redis+sentinel://a:1/%zz', /master name has a malformed %-escape/],
    ['redis+cluster://a b:1', /whitespace/],
  ])('rejects %s', (url, message) => {
    expect(() => parseRedisUrl(url)).toThrow(message);
    expect(() => parseRedisUrl(url)).toThrow(RedisUrlError);
  });

  it('never echoes a password, however the URL is wrong', () => {
    const secret = 'Zq9Secret';
    for (const url of [
      `redis+sentinel://${secret}@h:1/m`, // no colon: cannot tell user from password
      `redis+sentinel://:${secret}/x@h:1/m`, // a raw "/" in the password
      `redis+cluster://:${secret}?@h:1`, // a raw "?"
      `redis+cluster://:${secret}#x@h:1`, // a raw "#"
      `redis+cluster://:${secret}%zz@h:1`, // a bad escape
      `redis+sentinel://:${secret}@h:1`, // fine credentials, missing master name
      `redis+cluster://:${secret}@h:99999`,
      `redis://:${secret}@bad host`,
    ]) {
      let message = '';
      try {
        parseRedisUrl(url);
      } catch (e) {
        message = (e as Error).message;
      }
      expect(message, url).not.toBe('');
      expect(message, url).not.toContain(secret);
    }
  });

  const hostname = fc.stringMatching(/^[a-z0-9](?:[a-z0-9.-]{0,20}[a-z0-9])?$/);
  const hostPort = fc.record({ host: hostname, port: fc.integer({ min: 1, max: 65535 }) });

  it('round-trips any host list, password and master name it is given (property)', () => {
    fc.assert(
      fc.property(
        fc.array(hostPort, { minLength: 1, maxLength: 6 }),
        fc.string({ minLength: 1, maxLength: 20 }),
        fc.stringMatching(/^[A-Za-z0-9._-]{1,20}$/),
        fc.option(fc.integer({ min: 0, max: 15 }), { nil: undefined }),
        (hosts, password, masterName, db) => {
          const list = hosts.map((h) => `${h.host}:${String(h.port)}`).join(',');
          const cred = `:${encodeURIComponent(password)}@`;
          const query = db === undefined ? '' : `?db=${String(db)}`;
          expect(parseRedisUrl(`redis+sentinel://${cred}${list}/${masterName}${query}`)).toEqual({
            kind: 'sentinel',
            sentinels: hosts,
            masterName,
            password,
            tls: false,
            ...(db === undefined ? {} : { db }),
          });
          expect(parseRedisUrl(`rediss+cluster://${cred}${list}`)).toEqual({
            kind: 'cluster',
            nodes: hosts,
            password,
            tls: true,
          });
        },
      ),
    );
  });

  it('either parses or throws RedisUrlError on arbitrary text after the scheme (property)', () => {
    fc.assert(
      fc.property(fc.constantFrom('redis+sentinel://', 'redis+cluster://'), fc.string(), (p, s) => {
        try {
          parseRedisUrl(p + s);
        } catch (e) {
          expect(e).toBeInstanceOf(RedisUrlError);
        }
      }),
    );
  });
});
