import { hash, randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';

/**
 * API keys: `kvq_<30 base62 characters of randomness><6 base62 characters of checksum>`.
 *
 * The random body carries over 178 bits; the checksum (CRC32 of the body, base62, fixed width)
 * lets a typo or a truncated copy be told apart from an unknown key without any lookup, and lets
 * secret scanners recognise a leaked key. A key is stored only as its SHA-256 digest: it has
 * enough entropy that a salted slow hash would add nothing.
 */

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
export const API_KEY_PREFIX = 'kvq_';
const BODY_LENGTH = 30;
const CHECKSUM_LENGTH = 6;
export const API_KEY_LENGTH = API_KEY_PREFIX.length + BODY_LENGTH + CHECKSUM_LENGTH;
const SHAPE = /^kvq_[0-9A-Za-z]{36}$/;

/** `n` characters drawn uniformly from the base62 alphabet (rejection sampling, no modulo bias). */
export function randomBase62(n: number): string {
  let out = '';
  while (out.length < n) {
    for (const b of randomBytes(n * 2)) {
      // 248 = 4 * 62: bytes at or above it would favour the first characters.
      if (b < 248 && out.length < n) out += ALPHABET.charAt(b % 62);
    }
  }
  return out;
}

function base62Fixed(value: number, width: number): string {
  let s = '';
  let v = value;
  for (let i = 0; i < width; i++) {
    s = (ALPHABET[v % 62] ?? '0') + s;
    v = Math.floor(v / 62);
  }
  return s;
}

function checksumOf(body: string): string {
  return base62Fixed(crc32(body), CHECKSUM_LENGTH);
}

/** A fresh API key (the secret: shown once, never stored). */
export function generateApiKey(): string {
  const body = randomBase62(BODY_LENGTH);
  return `${API_KEY_PREFIX}${body}${checksumOf(body)}`;
}

/** A fresh public key id, e.g. `key_4fQ9xZ2bLmP0`. */
export function generateKeyId(): string {
  return `key_${randomBase62(12)}`;
}

export type KeyFormatProblem = 'malformed' | 'bad_checksum';

/**
 * What is wrong with a presented token as a kvq API key, decided without any lookup; undefined
 * when it has the shape and its checksum matches.
 */
export function apiKeyFormatProblem(token: string): KeyFormatProblem | undefined {
  if (!SHAPE.test(token)) return 'malformed';
  const body = token.slice(API_KEY_PREFIX.length, API_KEY_PREFIX.length + BODY_LENGTH);
  return token.endsWith(checksumOf(body)) ? undefined : 'bad_checksum';
}

/** The only form of a key that is ever stored: SHA-256, lowercase hex. */
export function apiKeyDigest(token: string): string {
  return hash('sha256', token, 'hex');
}

/** A short public fingerprint of a stored key (of its digest, never of the secret). */
export function keyFingerprint(digest: string): string {
  return digest.slice(0, 8);
}

const DIGEST = /^[0-9a-f]{64}$/;
export const isKeyDigest = (s: string): boolean => DIGEST.test(s);
export const KEY_ID = /^[A-Za-z0-9_-]{1,64}$/;

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 };

/** `30d`, `12h`, `90m`, `45s`, `2w` as seconds; undefined when it is none of these. */
export function parseDuration(s: string): number | undefined {
  const m = /^(\d{1,6})([smhdw])$/.exec(s.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  const unit = UNIT_SECONDS[m[2] ?? ''] ?? 0;
  return n > 0 ? n * unit : undefined;
}

/** `100/s`, `600/m` or a bare `100` as requests per second; undefined when it is none of these. */
export function parseRateLimit(s: string): number | undefined {
  const m = /^(\d{1,9})(?:\/([sm]))?$/.exec(s.trim());
  if (!m) return undefined;
  const n = Number(m[1]) / (m[2] === 'm' ? 60 : 1);
  return n > 0 ? n : undefined;
}
