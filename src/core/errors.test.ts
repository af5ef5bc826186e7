import { describe, expect, it } from 'vitest';

import { AppError, type ErrorCode, ERRORS, isOutOfMemory, isTransient } from './errors.ts';

describe('the error catalogue', () => {
  const pinned: Record<ErrorCode, number> = {
    MALFORMED_JSON: 400,
    VALIDATION_FAILED: 400,
    INVALID_KEY: 400,
    INVALID_CURSOR: 400,
    INVALID_HEADER: 400,
    UNAUTHORIZED: 401,
    INSUFFICIENT_SCOPE: 403,
    KEY_FORBIDDEN: 403,
    API_KEY_NOT_FOUND: 404,
    KEY_NOT_FOUND: 404,
    OP_NOT_FOUND: 404,
    ROUTE_NOT_FOUND: 404,
    METHOD_NOT_ALLOWED: 405,
    KEY_EXISTS: 409,
    PRECONDITION_FAILED: 412,
    PAYLOAD_TOO_LARGE: 413,
    VALUE_TOO_LARGE: 413,
    KEY_TOO_LONG: 414,
    UNSUPPORTED_MEDIA_TYPE: 415,
    IDEMPOTENCY_KEY_REUSED: 422,
    RATE_LIMITED: 429,
    DEAD_LETTER_NOT_FOUND: 404,
    NOT_REPLAYABLE: 409,
    HEADERS_TOO_LARGE: 431,
    BAD_REQUEST: 400,
    OP_PENDING: 503,
    KEY_BUSY: 503,
    BACKLOG_FULL: 503,
    QUEUE_UNAVAILABLE: 503,
    DATA_UNAVAILABLE: 503,
    SHUTTING_DOWN: 503,
    MALFORMED_JOB: 500,
    OP_EXPIRED: 409,
    INTERNAL: 500,
    QUEUE_FULL: 503,
    DATA_FULL: 503,
    WRITE_NOT_REPLICATED: 503,
    READ_NOT_REPLICATED: 503,
    DATA_NOT_REPLICATED: 503,
    VERSION_REISSUED: 409,
  };

  it.each(Object.entries(pinned))('%s is HTTP %i', (code, status) => {
    const e = new AppError(code as ErrorCode);
    expect(e.status).toBe(status);
    expect(e.detail).toBe(ERRORS[code as ErrorCode].title);
    // Only server-side availability problems, and a rate limit (after Retry-After), are worth
    // retrying.
    expect(e.retryable).toBe(status === 503 || status === 429);
  });

  it('pins every code', () => {
    expect(Object.keys(ERRORS).sort()).toEqual(Object.keys(pinned).sort());
  });
});

describe('isTransient', () => {
  it.each([
    [Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), true],
    [new Error("Stream isn't writeable and enableOfflineQueue options is false"), true],
    [new Error('Connection is closed.'), true],
    [new Error('Command timed out'), true],
    [new Error('LOADING Redis is loading the dataset in memory'), true],
    [new Error("READONLY You can't write against a read only replica."), true],
    [new Error('NOREPLICAS Not enough good replicas to write.'), true],
    [
      new Error('MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to no'),
      true,
    ],
    [new Error('CLUSTERDOWN The cluster is down'), true],
    [new Error('TRYAGAIN Multiple keys request during rehashing of slot'), true],
    [new Error('Failed to refresh slots cache.'), true],
    [
      new Error(
        'Too many Cluster redirections. Last error: ReplyError: CLUSTERDOWN The cluster is down',
      ),
      true,
    ],
    [
      new Error('Too many Cluster redirections. Last error: ReplyError: MOVED 442 127.0.0.1:1'),
      true,
    ],
    [new Error('None of startup nodes is available'), true],
    [new Error("Cluster isn't ready and enableOfflineQueue options is false"), true],
    [new Error('Cluster is disconnected.'), true],
    [new Error('All sentinels are unreachable. Retrying from scratch after 10ms.'), true],
    [new Error('None of the sentinels are available'), true],
    [new Error("CROSSSLOT Keys in request don't hash to the same slot"), false],
    [new Error('ERR wrong number of arguments'), false],
    [new Error("OOM command not allowed when used memory > 'maxmemory'."), true],
    [new AppError('QUEUE_FULL'), true],
    [new AppError('DATA_UNAVAILABLE'), true],
    [new AppError('VALIDATION_FAILED'), false],
    ['not an error', false],
  ])('%s → %s', (err, expected) => {
    expect(isTransient(err)).toBe(expected);
  });
});

describe('isOutOfMemory', () => {
  it.each([
    [new Error("OOM command not allowed when used memory > 'maxmemory'."), true],
    [
      new Error(
        "OOM command not allowed when used memory > 'maxmemory'. script: ab12, on @user_script:19.",
      ),
      true,
    ],
    [new Error('ERR something about OOM'), false],
    [new AppError('QUEUE_FULL'), false],
    ['OOM', false],
  ])('%s → %s', (err, expected) => {
    expect(isOutOfMemory(err)).toBe(expected);
  });
});
