import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { buildRequest, rawRequest, type RawResponse } from '../helpers/raw-http.ts';
import { call, type Stack, startStack } from '../helpers/stack.ts';

/**
 * Rate limits per client address through the real server, on the raw fast lane (plain
 * GET/PUT /v1/keys/{key}) and through Hono (everything else): the same counter for both, a 429
 * problem+json with Retry-After and the IETF RateLimit fields once over, the fields on every
 * limited answer, lowercase names. The API trusts 127.0.0.1 as a proxy, so each test is a client
 * of its own by its X-Forwarded-For. The window is long enough that it never rolls over mid-test.
 */

const QUOTA = 3;
const WINDOW = 600;
const TOKEN = 'rl-token';

let s: Stack;
let port: number;
let authed: Stack;
let authedPort: number;
let off: Stack;
beforeAll(async () => {
  const env = {
    RATE_LIMIT_ANON_PER_SECOND: String(QUOTA / WINDOW),
    RATE_LIMIT_WINDOW_SECONDS: String(WINDOW),
    TRUSTED_PROXIES: '127.0.0.1',
  };
  [s, authed, off] = await Promise.all([
    startStack({ worker: false, env }),
    startStack({ worker: false, env: { ...env, API_TOKENS: TOKEN } }),
    startStack({ worker: false }),
  ]);
  port = Number(new URL(s.url).port);
  authedPort = Number(new URL(authed.url).port);
});
afterAll(async () => {
  await Promise.all([s.stop(), authed.stop(), off.stop()]);
});

let nextClient = 1;
/** A client address of its own for each test (TEST-NET-2). */
const newClient = () => `198.51.100.${String(nextClient++)}`;

const send = async (
  p: number,
  client: string,
  method: string,
  path: string,
  headers: [string, string][] = [],
  body?: unknown,
): Promise<RawResponse> => {
  const all: [string, string][] = [['X-Forwarded-For', client], ...headers];
  if (body !== undefined) all.push(['Content-Type', 'application/json']);
  const r = await rawRequest(
    p,
    buildRequest(
      method,
      path,
      all,
      body === undefined ? undefined : Buffer.from(JSON.stringify(body)),
    ),
  );
  if (!r) throw new Error(`no answer to ${method} ${path}`);
  return r;
};
const problem = (r: RawResponse) => JSON.parse(r.body.toString()) as Record<string, unknown>;

const POLICY = `"default";q=${String(QUOTA)};w=${String(WINDOW)}`;

describe.each([
  ['the raw fast lane', 'GET', '/v1/keys/rl/a'],
  ['Hono', 'GET', '/v1/keys?prefix=rl/'],
])('on %s', (_lane, method, path) => {
  it('counts down in RateLimit, then answers 429 problem+json with Retry-After', async () => {
    const client = newClient();
    for (let i = 1; i <= QUOTA; i++) {
      const r = await send(port, client, method, path);
      expect(r.status).toBeLessThan(429);
      expect(r.headers['ratelimit-policy']).toBe(POLICY);
      expect(r.headers.ratelimit).toMatch(new RegExp(`^"default";r=${String(QUOTA - i)};t=\\d+$`));
    }
    const r = await send(port, client, method, path);
    expect(r.status).toBe(429);
    expect(r.headers['content-type']).toBe('application/problem+json');
    expect(problem(r)).toMatchObject({
      type: 'https://kvq.dev/problems/rate-limited',
      title: 'Too many requests',
      status: 429,
      code: 'RATE_LIMITED',
    });
    expect(String(problem(r).detail)).toContain('client address');
    const retryAfter = Number(r.headers['retry-after']);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(WINDOW);
    expect(r.headers.ratelimit).toBe(`"default";r=0;t=${String(retryAfter)}`);
    expect(r.headers['ratelimit-policy']).toBe(POLICY);
    expect(r.names.filter((n) => /^(ratelimit|retry-after)/i.test(n))).toEqual(
      r.names.filter((n) => /^(ratelimit|retry-after)/i.test(n)).map((n) => n.toLowerCase()),
    );
    // Another client is not affected.
    expect((await send(port, newClient(), method, path)).status).toBeLessThan(429);
  });
});

it('both lanes share one counter per client', async () => {
  const client = newClient();
  expect((await send(port, client, 'GET', '/v1/keys/rl/b')).headers.ratelimit).toMatch(/;r=2;/);
  expect((await send(port, client, 'GET', '/v1/keys?prefix=rl/')).headers.ratelimit).toMatch(
    /;r=1;/,
  );
  expect((await send(port, client, 'PUT', '/v1/keys/rl/b', [], { value: 1 })).status).toBe(202);
  const over = await send(port, client, 'PUT', '/v1/keys/rl/b', [], { value: 2 });
  expect(over.status).toBe(429);
  // A refused write is not accepted: the one accepted write is still the only one pending.
  expect(await s.openCount()).toBe(1);
});

it('any forwarding header gets a 4xx, never a 5xx', async () => {
  const printable = fc.string({
    unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
  });
  const entry = fc.oneof(
    printable,
    fc.ipV4(),
    fc.ipV6(),
    fc.ipV6().map((a) => `[${a}]:8080`),
    fc.constant('unknown'),
  );
  await fc.assert(
    fc.asyncProperty(fc.array(entry, { maxLength: 5 }), fc.boolean(), async (entries, raw) => {
      const header = entries.join(', ').trim();
      const r = await send(port, header, 'GET', raw ? '/v1/keys/rl/f' : '/v1/keys?prefix=rl/');
      expect(r.status).toBeGreaterThanOrEqual(200);
      expect(r.status).toBeLessThan(500);
    }),
    { numRuns: 60 },
  );
});

it('probes are not limited', async () => {
  const r = await call(s.url, 'GET', '/healthz');
  expect(r.status).toBe(200);
  expect(r.headers.get('ratelimit')).toBeNull();
});

it('error answers carry the RateLimit fields too, and the header names are lowercase', async () => {
  const client = newClient();
  const raw = await send(port, client, 'GET', '/v1/keys/rl/missing');
  const hono = await send(port, client, 'GET', '/v1/ops/no-such-op');
  for (const r of [raw, hono]) {
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect(r.status).toBeLessThan(429);
    expect(r.names).toEqual(expect.arrayContaining(['ratelimit', 'ratelimit-policy']));
  }
});

it('a client behind the proxy cannot escape its limit by naming another address', async () => {
  const client = newClient();
  for (let i = 0; i < QUOTA; i++) await send(port, client, 'GET', '/v1/keys/rl/c');
  // Prepending addresses of its own does not change which one the trusted proxy saw.
  const forged = await send(port, `203.0.113.7, ${client}`, 'GET', '/v1/keys/rl/c');
  expect(forged.status).toBe(429);
});

describe('with authentication', () => {
  it('failed authentications count against the address; over it, 429 before the token is tried', async () => {
    const client = newClient();
    for (let i = 0; i < QUOTA; i++) {
      const r = await send(authedPort, client, 'GET', '/v1/keys/rl/a', [
        ['Authorization', 'Bearer wrong'],
      ]);
      expect(r.status).toBe(401);
      expect(r.headers['www-authenticate']).toContain('invalid_token');
      expect(r.headers.ratelimit).toMatch(new RegExp(`;r=${String(QUOTA - 1 - i)};`));
    }
    const over = await send(authedPort, client, 'GET', '/v1/keys/rl/a', [
      ['Authorization', 'Bearer wrong'],
    ]);
    expect(over.status).toBe(429);
    expect(problem(over).code).toBe('RATE_LIMITED');
    expect(over.headers['www-authenticate']).toBeUndefined();
    // The right token from that address is refused as well, on both lanes, until the window
    // ends: a guessed credential is not even checked.
    for (const path of ['/v1/keys/rl/a', '/v1/keys?prefix=rl/']) {
      const r = await send(authedPort, client, 'GET', path, [['Authorization', `Bearer ${TOKEN}`]]);
      expect(r.status).toBe(429);
      expect(r.headers['retry-after']).toMatch(/^[1-9]\d*$/);
    }
    // Another address with the right token is served.
    const other = await send(authedPort, newClient(), 'GET', '/v1/keys/rl/a', [
      ['Authorization', `Bearer ${TOKEN}`],
    ]);
    expect(other.status).toBe(404);
  });
});

it('with the default configuration nothing is limited and no RateLimit field is sent', async () => {
  const offPort = Number(new URL(off.url).port);
  const client = newClient();
  for (let i = 0; i < 20; i++) {
    const [raw, hono] = await Promise.all([
      send(offPort, client, 'GET', '/v1/keys/rl/a'),
      send(offPort, client, 'GET', '/v1/keys?prefix=rl/'),
    ]);
    for (const r of [raw, hono]) {
      expect(r.status).toBeLessThan(429);
      expect(r.headers.ratelimit).toBeUndefined();
      expect(r.headers['ratelimit-policy']).toBeUndefined();
    }
  }
});
