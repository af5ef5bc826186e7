import { describe, expect, it } from 'vitest';

import { errorFromResponse, parseRetryAfter } from './errors.ts';

describe('errorFromResponse', () => {
  it('takes code, detail, request id and Retry-After from a problem+json answer', async () => {
    const body = {
      type: 'https://kvq.dev/problems/backlog-full',
      title: 'Write backlog full',
      status: 503,
      detail: 'too many unfinished writes',
      code: 'BACKLOG_FULL',
      requestId: 'r1',
    };
    const res = new Response(JSON.stringify(body), {
      status: 503,
      headers: { 'Content-Type': 'application/problem+json', 'Retry-After': '5' },
    });
    const err = await errorFromResponse(res);
    expect(err).toMatchObject({
      code: 'BACKLOG_FULL',
      status: 503,
      title: 'Write backlog full',
      detail: 'too many unfinished writes',
      requestId: 'r1',
      retryAfter: 5,
      retryable: true,
    });
    expect(err.problem).toEqual(body);
  });

  it('a 429 RATE_LIMITED is retryable after its Retry-After', async () => {
    const body = {
      type: 'https://kvq.dev/problems/rate-limited',
      title: 'Too many requests',
      status: 429,
      detail: 'this API key may make 100 requests per 1 s; retry in 1 s',
      code: 'RATE_LIMITED',
      requestId: 'r2',
    };
    const res = new Response(JSON.stringify(body), {
      status: 429,
      headers: { 'Content-Type': 'application/problem+json', 'Retry-After': '1' },
    });
    const err = await errorFromResponse(res);
    expect(err).toMatchObject({ code: 'RATE_LIMITED', retryAfter: 1, retryable: true });
  });

  it('an answer without a problem body becomes HTTP_<status>', async () => {
    const res = new Response('<html>bad gateway</html>', {
      status: 502,
      statusText: 'Bad Gateway',
      headers: { 'Content-Type': 'text/html' },
    });
    const err = await errorFromResponse(res);
    expect(err).toMatchObject({ code: 'HTTP_502', status: 502, retryAfter: undefined });
    expect(err.detail).toContain('502 Bad Gateway');
    expect(err.retryable).toBe(false);
  });
});

describe('parseRetryAfter', () => {
  it('reads seconds and HTTP dates; ignores anything else', () => {
    expect(parseRetryAfter('3')).toBe(3);
    expect(parseRetryAfter(null)).toBeUndefined();
    expect(parseRetryAfter('soon')).toBeUndefined();
    const inTen = new Date(Date.now() + 10_000).toUTCString();
    expect(parseRetryAfter(inTen)).toBeGreaterThanOrEqual(9);
    expect(parseRetryAfter(inTen)).toBeLessThanOrEqual(10);
  });
});
