import { randomBytes } from 'node:crypto';

import { Hono } from 'hono';
import type { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

import { type RateLimiter, type RateLimitIdentity } from '../../src/api/index.ts';
import { createErrorHandler } from '../../src/api/middleware/errors.ts';
import { rateLimit, requestIdentity } from '../../src/api/middleware/rate-limit.ts';
import { createRateLimiter } from '../../src/api/rate-limiter.ts';
import { AppError, createLogger, loadConfig, type Principal } from '../../src/core/index.ts';
import {
  closeClient,
  createRedisClient,
  type LocalCluster,
  type RedisClient,
  startRedisCluster,
  waitReady,
} from '../../src/redis/index.ts';

/**
 * The limiter against a real Redis: one counter per API key (its own rate, else the default) and
 * per client address (an IPv6 client by its /64), 0 = no limit, the onLimited hook; the Hono
 * middleware limiting by the request's principal; and the same counters on a 3-primary Redis
 * Cluster, where each identity's counter is one key.
 */

const logger = createLogger('silent', 'test');
const config = (env: Record<string, string>) =>
  loadConfig({ RATE_LIMIT_WINDOW_SECONDS: '600', ...env });

/** How `check` ended: the `r=` it reported, or the error code it threw. */
async function outcome(limiter: RateLimiter, identity: RateLimitIdentity): Promise<string> {
  try {
    const d = await limiter.check(identity);
    return /;r=(\d+);/.exec(d.headers.ratelimit ?? '')?.[1] ?? 'unlimited';
  } catch (e) {
    return e instanceof AppError ? e.code : String(e);
  }
}
const outcomes = async (limiter: RateLimiter, identity: RateLimitIdentity, n: number) => {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(await outcome(limiter, identity));
  return out;
};

function limiterOn(redis: RedisClient, env: Record<string, string>) {
  const limited: string[] = [];
  const keyPrefix = `t${randomBytes(4).toString('hex')}:rl`;
  const limiter = createRateLimiter({
    redis,
    config: config(env),
    keyPrefix,
    logger,
    onLimited: (kind) => limited.push(kind),
  });
  return { limiter, limited, keyPrefix };
}

let redis: RedisClient;
beforeAll(async () => {
  redis = createRedisClient(inject('queueRedisUrl'), 'command', loadConfig({}), 'test-rl');
  expect(await waitReady(redis, 5000)).toBe(true);
});
afterAll(async () => {
  await closeClient(redis);
});

describe('per API key', () => {
  it('each key has its own counter at the default rate', async () => {
    const { limiter, limited, keyPrefix } = limiterOn(redis, {
      RATE_LIMIT_PER_SECOND: String(3 / 600),
    });
    expect(await outcomes(limiter, { kind: 'key', id: 'a' }, 4)).toEqual([
      '2',
      '1',
      '0',
      'RATE_LIMITED',
    ]);
    expect(await outcome(limiter, { kind: 'key', id: 'b' })).toBe('2');
    expect(limited).toEqual(['key']);
    // Counted in Redis (not in memory): one key per identity, expiring with its window.
    expect(await redis.get(`${keyPrefix}:k:a`)).toBe('3');
    const ttl = await redis.ttl(`${keyPrefix}:k:b`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(600);
  });

  it("a key's own rate wins over the default, also when the default is 0 (none)", async () => {
    const { limiter } = limiterOn(redis, {});
    expect(await outcomes(limiter, { kind: 'key', id: 'x' }, 3)).toEqual([
      'unlimited',
      'unlimited',
      'unlimited',
    ]);
    const own = { kind: 'key', id: 'y', perSecond: 2 / 600 } as const;
    expect(await outcomes(limiter, own, 3)).toEqual(['1', '0', 'RATE_LIMITED']);
  });

  it('a rate below one per window stretches the window', async () => {
    const { limiter } = limiterOn(redis, { RATE_LIMIT_WINDOW_SECONDS: '1' });
    const d = await limiter.check({ kind: 'key', id: 'slow', perSecond: 0.5 });
    expect(d.headers['ratelimit-policy']).toBe('"default";q=1;w=2');
    await expect(limiter.check({ kind: 'key', id: 'slow', perSecond: 0.5 })).rejects.toThrow(
      /1 requests per 2 s/,
    );
  });

  it('a 429 carries Retry-After and the RateLimit fields', async () => {
    const { limiter } = limiterOn(redis, { RATE_LIMIT_PER_SECOND: String(1 / 600) });
    await limiter.check({ kind: 'key', id: 'k' });
    const err = await limiter.check({ kind: 'key', id: 'k' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    const e = err as AppError;
    expect(e.status).toBe(429);
    const retryAfter = Number(e.headers['retry-after']);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(600);
    expect(e.headers).toEqual({
      'retry-after': String(retryAfter),
      ratelimit: `"default";r=0;t=${String(retryAfter)}`,
      'ratelimit-policy': '"default";q=1;w=600',
    });
  });
});

describe('per client address', () => {
  it('counts addresses apart from keys, an IPv6 client by its /64', async () => {
    const { limiter, limited } = limiterOn(redis, {
      RATE_LIMIT_PER_SECOND: String(5 / 600),
      RATE_LIMIT_ANON_PER_SECOND: String(2 / 600),
    });
    const v6 = (host: string) => ({ kind: 'address', address: `2001:db8:1:2::${host}` }) as const;
    expect(await outcome(limiter, v6('1'))).toBe('1');
    expect(await outcome(limiter, v6('ffff'))).toBe('0');
    expect(await outcome(limiter, v6('2'))).toBe('RATE_LIMITED');
    expect(await outcome(limiter, { kind: 'address', address: '2001:db8:1:3::1' })).toBe('1');
    // A key whose id looks like an address has a counter of its own.
    expect(await outcome(limiter, { kind: 'key', id: '2001:db8:1:2::/64' })).toBe('4');
    expect(limited).toEqual(['address']);
    // Over its quota, the address is refused without asking Redis.
    expect(limiter.refusal(() => '2001:db8:1:2::9')?.code).toBe('RATE_LIMITED');
    expect(limiter.refusal(() => '2001:db8:1:3::1')).toBeUndefined();
  });

  it('0 = no limit per address', async () => {
    const { limiter } = limiterOn(redis, { RATE_LIMIT_PER_SECOND: '1' });
    expect(await outcomes(limiter, { kind: 'address', address: '192.0.2.1' }, 3)).toEqual([
      'unlimited',
      'unlimited',
      'unlimited',
    ]);
  });
});

describe('the Hono middleware', () => {
  it('limits a request with a principal by its key, with its own rate', async () => {
    const { limiter } = limiterOn(redis, { RATE_LIMIT_ANON_PER_SECOND: String(1 / 600) });
    const app = new Hono();
    app.use(async (c, next) => {
      const id = c.req.header('x-key');
      if (id) {
        const principal: Principal = {
          keyId: id,
          name: id,
          scope: 'read',
          rateLimitPerSecond: 2 / 600,
        };
        c.set('principal', principal);
      }
      await next();
    });
    app.use(rateLimit(limiter, requestIdentity({ limiter, trustedProxies: undefined })));
    app.get('/x', (c) => c.json({ ok: true }));
    app.onError(createErrorHandler(logger));
    const get = async (key?: string) => {
      const r = await app.request('/x', { headers: key ? { 'x-key': key } : {} });
      return `${String(r.status)} ${r.headers.get('ratelimit') ?? ''}`;
    };
    expect(await get('k1')).toMatch(/^200 "default";r=1;t=\d+$/);
    expect(await get('k1')).toMatch(/^200 "default";r=0;/);
    expect(await get('k1')).toMatch(/^429 "default";r=0;/);
    expect(await get('k2')).toMatch(/^200 "default";r=1;/);
    // Without a principal (and without a socket): the address policy, one per 600 s.
    expect(await get()).toMatch(/^200 "default";r=0;/);
    expect(await get()).toMatch(/^429 /);
  });
});

describe('on a Redis Cluster', () => {
  let cluster: LocalCluster;
  let client: Cluster;
  beforeAll(async () => {
    cluster = await startRedisCluster({ primaries: 3, replicasPer: 0 });
    client = createRedisClient(cluster.url, 'command', loadConfig({}), 'test-rl') as Cluster;
    expect(await waitReady(client, 10_000)).toBe(true);
  }, 60_000);
  afterAll(async () => {
    await closeClient(client);
    await cluster.stop();
  });

  it('counts every identity, whichever node holds its key', async () => {
    const { limiter, keyPrefix } = limiterOn(client, {
      RATE_LIMIT_PER_SECOND: String(2 / 600),
      RATE_LIMIT_ANON_PER_SECOND: String(2 / 600),
    });
    const identities: RateLimitIdentity[] = [
      ...Array.from({ length: 12 }, (_, i) => ({ kind: 'key', id: `key-${String(i)}` }) as const),
      ...Array.from(
        { length: 12 },
        (_, i) => ({ kind: 'address', address: `192.0.2.${String(i)}` }) as const,
      ),
    ];
    for (const id of identities) {
      expect(await outcomes(limiter, id, 3)).toEqual(['1', '0', 'RATE_LIMITED']);
    }
    // Counted in the cluster (not in memory), on more than one primary.
    const nodes = new Set<number>();
    for (const id of identities) {
      const key = `${keyPrefix}:${id.kind === 'key' ? `k:${id.id}` : `a:${id.address}`}`;
      expect(await client.get(key)).toBe('2');
      nodes.add((await cluster.primaryOf(key)).port);
    }
    expect(nodes.size).toBeGreaterThan(1);
  });
});
