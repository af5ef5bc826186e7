import { describe, expect, it } from 'vitest';

import { AppError } from '../../core/index.ts';
import { createAuthenticator } from '../auth/authenticator.ts';
import { validateKey } from '../key-path.ts';
import { checkRequestTarget, headerLines, requestIdFrom } from './request-context.ts';

const codeOf = (fn: () => unknown): string | undefined => {
  try {
    fn();
    return undefined;
  } catch (e) {
    return e instanceof AppError ? e.code : String(e);
  }
};

describe('the request-target check', () => {
  it.each([
    '/v1/keys/..',
    '/v1/keys/.',
    '/v1/keys/a/../b',
    '/v1/keys/a/%2e%2E/b',
    '/v1/keys/%2E.',
    '/v1/keys/.%2e/x?y=1',
    '/v1/keys/a\\..\\b',
    'http://h/v1/keys/a/%2e/b',
  ])('refuses %s as INVALID_KEY', (target) => {
    expect(codeOf(() => checkRequestTarget(target))).toBe('INVALID_KEY');
  });

  it.each(['/..', '/v1/%2e%2e/healthz', '/v1/dlq/./', 'HTTP://h/x/../v1/dlq', '/v1/ops/x/..'])(
    'refuses %s as BAD_REQUEST outside /v1/keys/',
    (target) => {
      expect(codeOf(() => checkRequestTarget(target))).toBe('BAD_REQUEST');
    },
  );

  it.each([
    '/v1/keys/a.b',
    '/v1/keys/...',
    '/v1/keys/.hidden/x',
    '/v1/keys/x/..y',
    '/v1/keys/%2e%2e%2e',
    '/v1/keys/a%2F..%2Fb',
    '/v1/keys/x?after=../..',
    '/v1/keys/x#/../y',
    '/v1/keys/http://h/x',
    '/v1/keys?prefix=http://h/../',
    '/v1/keys%2F..',
    'http://h',
    '*',
  ])('lets %s through (the key itself is checked later)', (target) => {
    expect(codeOf(() => checkRequestTarget(target))).toBeUndefined();
  });

  it('a key with a dot segment between "/" is refused wherever it comes from', () => {
    for (const key of ['.', '..', 'a/..', './a', 'a/./b', 'a/../b']) {
      expect(codeOf(() => validateKey(key, 64, 'body'))).toBe('INVALID_KEY');
      expect(codeOf(() => validateKey(key, 64, 'path'))).toBe('INVALID_KEY');
    }
    for (const key of ['a.b', '...', '.x', 'x.', 'a/.../b', 'a\\..\\b']) {
      expect(validateKey(key, 64, 'body')).toBe(key);
    }
  });
});

describe('bearer tokens (deprecated API_TOKENS entries)', () => {
  const authenticator = createAuthenticator({ legacyTokens: ['tok-1', 'tok-2'], cacheMs: 0 });
  const result = (lines: string[]) => {
    try {
      return authenticator.fromMemory(lines)?.scope === 'admin' ? 'ok' : 'not admin';
    } catch (e) {
      const err = e as AppError;
      return `${err.code} ${err.headers['www-authenticate'] ?? ''}`;
    }
  };

  it.each([
    [['Bearer tok-1'], 'ok'],
    [['bearer   tok-2'], 'ok'],
    [[], 'UNAUTHORIZED Bearer realm="kvq"'],
    [[''], 'UNAUTHORIZED Bearer realm="kvq"'],
    [['Bearer nope'], 'UNAUTHORIZED Bearer realm="kvq", error="invalid_token"'],
    [['Bearer tok-1x'], 'UNAUTHORIZED Bearer realm="kvq", error="invalid_token"'],
    [['Bearer'], 'UNAUTHORIZED Bearer realm="kvq", error="invalid_request"'],
    [['Bearertok-1'], 'UNAUTHORIZED Bearer realm="kvq", error="invalid_request"'],
    [['Basic tok-1'], 'UNAUTHORIZED Bearer realm="kvq", error="invalid_request"'],
    [['Bearer tok 1'], 'UNAUTHORIZED Bearer realm="kvq", error="invalid_request"'],
    [['Bearer tok-1', 'Bearer tok-1'], 'INVALID_HEADER Bearer error="invalid_request"'],
    [['Bearer nope', 'Bearer tok-1'], 'INVALID_HEADER Bearer error="invalid_request"'],
    [['Bearer tok-1, Bearer tok-2'], 'INVALID_HEADER Bearer error="invalid_request"'],
    [['Bearer tok-1, '], 'INVALID_HEADER Bearer error="invalid_request"'],
  ])('%j -> %s', (lines, expected) => {
    expect(result(lines)).toBe(expected);
  });

  it('reads every Authorization line, in any case, from rawHeaders', () => {
    const raw = ['Host', 'h', 'authorization', 'Bearer a', 'X-Other', 'v', 'AUTHORIZATION', 'b'];
    expect(headerLines(raw, 'authorization')).toEqual(['Bearer a', 'b']);
    expect(headerLines(['Host', 'h'], 'authorization')).toEqual([]);
  });
});

describe('the request id', () => {
  it('uses a client id of 1-255 [A-Za-z0-9_=-], else a UUID', () => {
    for (const id of ['a', 'A_b=c-9', 'x'.repeat(255)]) expect(requestIdFrom(id)).toBe(id);
    for (const id of [undefined, '', 'x'.repeat(256), 'a b', 'a, b', 'é', 'a.b']) {
      expect(requestIdFrom(id)).toMatch(/^[0-9a-f-]{36}$/);
    }
  });
});
