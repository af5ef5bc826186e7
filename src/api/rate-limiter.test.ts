import { describe, expect, it } from 'vitest';

import { policyFor, rateLimitHeaders } from './rate-limiter.ts';

describe('the policy of a rate', () => {
  it.each([
    [0, 1, undefined],
    [-1, 1, undefined],
    [Number.NaN, 1, undefined],
    [100, 1, { quota: 100, window: 1 }],
    [100, 10, { quota: 1000, window: 10 }],
    [0.5, 1, { quota: 1, window: 2 }],
    [0.29, 100, { quota: 29, window: 100 }],
    [3 / 600, 600, { quota: 3, window: 600 }],
    [0.001, 60, { quota: 1, window: 1000 }],
  ])('%d/s over %d s -> %j', (perSecond, window, expected) => {
    expect(policyFor(perSecond, window)).toEqual(expected);
  });
});

describe('the RateLimit fields', () => {
  it('are the IETF draft structured fields, lowercase', () => {
    expect(rateLimitHeaders({ quota: 100, window: 10 }, 42, 7)).toEqual({
      ratelimit: '"default";r=42;t=7',
      'ratelimit-policy': '"default";q=100;w=10',
    });
  });
});
