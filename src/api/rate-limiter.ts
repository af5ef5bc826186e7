import type { Cluster, Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';

import { AppError, type Config, type Logger } from '../core/index.ts';
import { addressBucket } from './client-address.ts';

/**
 * Rate limits per API key and per client address, counted in the queue Redis by
 * rate-limiter-flexible (one fixed-window counter per identity: a single key, so any Redis
 * topology, a cluster included, serves it; no hash tag is needed). The queue Redis, because it
 * already holds kvq's short-lived state (receipts, Idempotency-Keys) and the counters are of that
 * kind; the data Redis holds only what clients stored, and its memory and availability are theirs.
 *
 * When that Redis fails or does not answer within RATE_LIMIT_REDIS_TIMEOUT_MS, the request is
 * counted in this process' memory instead (the same limits, per process), and Redis is left alone
 * for REDIS_RETRY_MS before it is asked again: a stalled Redis costs one bounded wait, not one per
 * request, and never a 5xx. An identity over its quota is refused from memory until its window
 * ends (rate-limiter-flexible's in-memory block), so a flood costs Redis nothing.
 */

export type RateLimitIdentity =
  | { kind: 'key'; id: string; perSecond?: number | undefined }
  | { kind: 'address'; address: string };

export interface RateLimitDecision {
  /** The RateLimit and RateLimit-Policy fields to send; empty when no limit applies. */
  readonly headers: Readonly<Record<string, string>>;
}

export interface RateLimiter {
  /**
   * Counts one request of `identity`. Resolves with the fields to send; rejects with
   * AppError('RATE_LIMITED') (429, Retry-After and the same fields) when it is over its quota.
   */
  check(identity: RateLimitIdentity): Promise<RateLimitDecision>;
  /**
   * The 429 for an address this process knows to be over its quota (from its last check, without
   * asking Redis), else undefined: lets a request be refused before its credential is tried.
   * `address` is only called when some address is refused.
   */
  refusal(address: () => string): AppError | undefined;
  /** Whether client addresses are limited at all (RATE_LIMIT_ANON_PER_SECOND > 0). */
  readonly limitsAddresses: boolean;
}

export type RateLimitConfig = Pick<
  Config,
  | 'RATE_LIMIT_PER_SECOND'
  | 'RATE_LIMIT_ANON_PER_SECOND'
  | 'RATE_LIMIT_WINDOW_SECONDS'
  | 'RATE_LIMIT_REDIS_TIMEOUT_MS'
>;

export interface RateLimiterDeps {
  redis: Redis | Cluster;
  config: RateLimitConfig;
  /** Prefix of the counters' Redis keys (keyLayout().global.rateLimits). */
  keyPrefix: string;
  logger: Logger;
  /** Called once per refused request (the rate-limited requests metric). */
  onLimited?: ((kind: RateLimitIdentity['kind']) => void) | undefined;
}

/** How long Redis is left alone after it failed or stalled. */
const REDIS_RETRY_MS = 1000;
/** The policy name in RateLimit-Policy and RateLimit. */
const POLICY = '"default"';
/** At most this many addresses are remembered as refused (the oldest are forgotten first). */
const MAX_BLOCKED = 10_000;

const NO_LIMIT: RateLimitDecision = Object.freeze({ headers: Object.freeze({}) });

interface Policy {
  /** Requests per window. */
  readonly quota: number;
  /** The window, in seconds. */
  readonly window: number;
}

/**
 * The quota and window for a rate of `perSecond` (0 or less = none): the configured window, made
 * longer for a rate below one per window (0.5/s over 1 s is 1 request per 2 s).
 */
export function policyFor(perSecond: number, windowSeconds: number): Policy | undefined {
  if (!(perSecond > 0)) return undefined;
  const window = Math.max(windowSeconds, Math.ceil(1 / perSecond));
  // The epsilon keeps 0.29 × 100 at 29 despite binary floating point.
  return { quota: Math.max(1, Math.floor(perSecond * window + 1e-9)), window };
}

/** The IETF RateLimit / RateLimit-Policy fields (draft-ietf-httpapi-ratelimit-headers). */
export function rateLimitHeaders(
  policy: Policy,
  remaining: number,
  resetSeconds: number,
): Record<string, string> {
  return {
    ratelimit: `${POLICY};r=${String(remaining)};t=${String(resetSeconds)}`,
    'ratelimit-policy': `${POLICY};q=${String(policy.quota)};w=${String(policy.window)}`,
  };
}

class RedisTimeout extends Error {
  constructor(ms: number) {
    super(`no answer from Redis within ${String(ms)} ms`);
    this.name = 'RedisTimeout';
  }
}

/** Builds the rate limiter; see the module comment. */
export function createRateLimiter(deps: RateLimiterDeps): RateLimiter {
  const { config, logger } = deps;
  const windowSeconds = config.RATE_LIMIT_WINDOW_SECONDS;
  const keyPolicy = policyFor(config.RATE_LIMIT_PER_SECOND, windowSeconds);
  const addressPolicy = policyFor(config.RATE_LIMIT_ANON_PER_SECOND, windowSeconds);
  const timeoutMs = config.RATE_LIMIT_REDIS_TIMEOUT_MS;

  /** One Redis limiter and its in-memory stand-in per policy (keys may have their own rates). */
  const limiters = new Map<string, { redis: RateLimiterRedis; memory: RateLimiterMemory }>();
  const limitersOf = (p: Policy) => {
    const id = `${String(p.quota)}/${String(p.window)}`;
    let pair = limiters.get(id);
    if (!pair) {
      const opts = { keyPrefix: deps.keyPrefix, points: p.quota, duration: p.window };
      pair = {
        redis: new RateLimiterRedis({
          ...opts,
          storeClient: deps.redis,
          // Over its quota, an identity is refused from memory until its window ends.
          inMemoryBlockOnConsumed: p.quota,
          rejectIfRedisNotReady: true,
        }),
        memory: new RateLimiterMemory(opts),
      };
      limiters.set(id, pair);
    }
    return pair;
  };

  /** Redis failed or stalled last time it was asked; it is asked again from `retryAt` on. */
  let down = false;
  let retryAt = 0;
  const redisFailed = (err: unknown) => {
    if (!down) logger.warn({ err }, 'rate limits: Redis unavailable, counting in this process');
    down = true;
    retryAt = Date.now() + REDIS_RETRY_MS;
  };
  const redisAnswered = () => {
    if (!down) return;
    down = false;
    logger.info('rate limits: Redis answers again, counting there');
  };

  /** `promise`, or a RedisTimeout after RATE_LIMIT_REDIS_TIMEOUT_MS (a later answer is dropped). */
  const withTimeout = <T>(promise: Promise<T>): Promise<T> => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        reject(new RedisTimeout(timeoutMs));
      }, timeoutMs);
    });
    return Promise.race([promise, timeout]).finally(() => {
      clearTimeout(timer);
    });
  };

  /** Consumes one point: in Redis, else in memory. Rejects with a RateLimiterRes when over. */
  const consume = async (p: Policy, key: string): Promise<RateLimiterRes> => {
    const pair = limitersOf(p);
    if (down && Date.now() < retryAt) return pair.memory.consume(key);
    let res: RateLimiterRes;
    try {
      res = await withTimeout(pair.redis.consume(key));
    } catch (err) {
      if (!(err instanceof RateLimiterRes)) {
        redisFailed(err);
        return pair.memory.consume(key);
      }
      redisAnswered();
      throw err;
    }
    redisAnswered();
    return res;
  };

  const blocked = new Map<string, number>();
  const block = (bucket: string, ms: number) => {
    if (blocked.size >= MAX_BLOCKED) {
      const now = Date.now();
      for (const [k, until] of blocked) if (until <= now) blocked.delete(k);
      const oldest = blocked.keys().next();
      if (blocked.size >= MAX_BLOCKED && oldest.done !== true) blocked.delete(oldest.value);
    }
    blocked.delete(bucket);
    blocked.set(bucket, Date.now() + ms);
  };

  return {
    async check(identity) {
      const isKey = identity.kind === 'key';
      const policy = isKey
        ? identity.perSecond === undefined
          ? keyPolicy
          : policyFor(identity.perSecond, windowSeconds)
        : addressPolicy;
      if (!policy) return NO_LIMIT;
      const bucket = isKey ? identity.id : addressBucket(identity.address);
      const key = `${isKey ? 'k' : 'a'}:${bucket}`;
      try {
        const res = await consume(policy, key);
        const reset = Math.max(1, Math.ceil(res.msBeforeNext / 1000));
        return { headers: rateLimitHeaders(policy, res.remainingPoints, reset) };
      } catch (err) {
        if (!(err instanceof RateLimiterRes)) throw err;
        if (!isKey) block(bucket, err.msBeforeNext);
        deps.onLimited?.(identity.kind);
        throw rateLimited(identity.kind, policy, err.msBeforeNext);
      }
    },
    limitsAddresses: addressPolicy !== undefined,
    refusal(address) {
      if (blocked.size === 0 || !addressPolicy) return undefined;
      const bucket = addressBucket(address());
      const until = blocked.get(bucket);
      if (until === undefined) return undefined;
      const left = until - Date.now();
      if (left <= 0) {
        blocked.delete(bucket);
        return undefined;
      }
      deps.onLimited?.('address');
      return rateLimited('address', addressPolicy, left);
    },
  };
}

/** The 429 problem: Retry-After and the RateLimit fields with nothing remaining. */
function rateLimited(kind: RateLimitIdentity['kind'], policy: Policy, msLeft: number): AppError {
  const retryAfter = Math.max(1, Math.ceil(msLeft / 1000));
  const who = kind === 'key' ? 'this API key' : 'this client address';
  return new AppError(
    'RATE_LIMITED',
    `${who} may make ${String(policy.quota)} requests per ${String(policy.window)} s; retry in ${String(retryAfter)} s`,
    { headers: { 'retry-after': String(retryAfter), ...rateLimitHeaders(policy, 0, retryAfter) } },
  );
}
