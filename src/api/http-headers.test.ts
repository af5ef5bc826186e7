import { describe, expect, it } from 'vitest';

import { etagMatches, parseWriteCondition, preferWaitSeconds } from './http-headers.ts';
import { keyFromUrl } from './key-path.ts';

describe('Prefer: wait', () => {
  it.each([
    [undefined, undefined],
    ['wait=5', 5],
    ['respond-async, wait=10', 10],
    ['wait=100', 30],
    ['wait="3"', 3],
    ['wait=-1', undefined],
    ['wait=abc', undefined],
    ['handling=lenient', undefined],
  ])('%s → %s', (h, want) => {
    expect(preferWaitSeconds(h)).toBe(want);
  });
});

describe('write conditions', () => {
  it('parses the three forms', () => {
    expect(parseWriteCondition(undefined, '*')).toEqual({ kind: 'absent' });
    expect(parseWriteCondition('*', undefined)).toEqual({ kind: 'exists' });
    expect(parseWriteCondition('"12"', undefined)).toEqual({ kind: 'version', version: 12 });
    // Strong comparison: a weak tag or a non-canonical version never matches.
    for (const h of ['W/"3"', '"03"', '"00"']) {
      expect(() => parseWriteCondition(h, undefined)).toThrow(
        expect.objectContaining({ code: 'PRECONDITION_FAILED' }),
      );
    }
    expect(parseWriteCondition('"0"', undefined)).toEqual({ kind: 'version', version: 0 });
    expect(parseWriteCondition(undefined, undefined)).toBeUndefined();
  });
  it.each(['12', '"x"', '"1", "2"', ''])('rejects If-Match %j', (h) => {
    expect(() => parseWriteCondition(h, undefined)).toThrow(/If-Match/);
  });
  it('matches read ETags', () => {
    expect(etagMatches('"3"', 3)).toBe(true);
    expect(etagMatches('"1", "3"', 3)).toBe(true);
    expect(etagMatches('*', 3)).toBe(true);
    expect(etagMatches('"4"', 3)).toBe(false);
  });
});

describe('keys from the URL', () => {
  const k = (path: string) => keyFromUrl(`http://h${path}`, '/v1/keys/', 16);
  it('decodes percent-encoding and keeps "/"', () => {
    expect(k('/v1/keys/a/b')).toBe('a/b');
    expect(k('/v1/keys/a%2Fb%20c?x=1')).toBe('a/b c');
    expect(k('/v1/keys/%C3%BC')).toBe('ü');
  });
  it.each([
    ['/v1/keys/%FF', /UTF-8/],
    ['/v1/keys/%E0%A4%A', /UTF-8/],
    ['/v1/keys/a%0Ab', /control/],
    ['/v1/keys/a%7Fb', /control/],
    [`/v1/keys/${'x'.repeat(17)}`, /limit/],
  ])('rejects %s', (path, re) => {
    expect(() => k(path)).toThrow(re);
  });
});
