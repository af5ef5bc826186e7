import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import {
  API_KEY_LENGTH,
  apiKeyDigest,
  apiKeyFormatProblem,
  generateApiKey,
  generateKeyId,
  parseDuration,
  parseRateLimit,
} from './api-key.ts';

describe('API keys', () => {
  it('are kvq_, 30 random and 6 checksum base62 characters, and pass their own check', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const k = generateApiKey();
      expect(k).toMatch(/^kvq_[0-9A-Za-z]{36}$/);
      expect(k).toHaveLength(API_KEY_LENGTH);
      expect(apiKeyFormatProblem(k)).toBeUndefined();
      seen.add(k);
    }
    expect(seen.size).toBe(200);
    expect(generateKeyId()).toMatch(/^key_[0-9A-Za-z]{12}$/);
  });

  it('a changed character anywhere after kvq_ fails the checksum, without a lookup', () => {
    const alphabet = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
    const key = generateApiKey();
    fc.assert(
      fc.property(fc.integer({ min: 4, max: 39 }), fc.integer({ min: 1, max: 61 }), (at, shift) => {
        const c = alphabet[(alphabet.indexOf(key.charAt(at)) + shift) % 62] ?? '0';
        const typo = key.slice(0, at) + c + key.slice(at + 1);
        expect(apiKeyFormatProblem(typo)).toBe('bad_checksum');
      }),
    );
    // Two neighbours swapped (the classic typo) are caught too, unless they are equal.
    for (let at = 4; at < 39; at++) {
      if (key[at] === key[at + 1]) continue;
      const swapped = key.slice(0, at) + key.charAt(at + 1) + key.charAt(at) + key.slice(at + 2);
      expect(apiKeyFormatProblem(swapped)).toBe('bad_checksum');
    }
  });

  it('anything else is malformed', () => {
    const key = generateApiKey();
    for (const t of [
      '',
      'tok-1',
      key.slice(0, -1),
      `${key}x`,
      `KVQ_${key.slice(4)}`,
      `kvq-${key.slice(4)}`,
      key.replace(/.$/, '-'),
    ]) {
      expect(apiKeyFormatProblem(t), t).toBe('malformed');
    }
  });

  it('is stored as its SHA-256, hex', () => {
    expect(apiKeyDigest('kvq_x')).toMatch(/^[0-9a-f]{64}$/);
    expect(apiKeyDigest('kvq_x')).not.toBe(apiKeyDigest('kvq_y'));
  });
});

describe('durations and rate limits', () => {
  it.each([
    ['45s', 45],
    ['90m', 5400],
    ['12h', 43_200],
    ['30d', 2_592_000],
    ['2w', 1_209_600],
  ])('%s is %i s', (s, n) => {
    expect(parseDuration(s)).toBe(n);
  });
  it.each(['', '0d', '30', 'd', '1y', '-1d', '1.5h'])('%j is no duration', (s) => {
    expect(parseDuration(s)).toBeUndefined();
  });
  it('rate limits: N, N/s, N/m', () => {
    expect(parseRateLimit('100')).toBe(100);
    expect(parseRateLimit('100/s')).toBe(100);
    expect(parseRateLimit('120/m')).toBe(2);
    for (const bad of ['0', '0/s', 'x', '10/h', '-1']) expect(parseRateLimit(bad)).toBeUndefined();
  });
});
