import { AppError } from '../core/index.ts';

// C0 controls, DEL and C1 controls.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
/**
 * A `.` or `..` segment between "/": no URL can name such a key (the request target would be
 * refused, or resolved by a URL parser), so it is refused wherever a key comes from.
 */
const DOT_SEGMENT = /(?:^|\/)\.\.?(?:\/|$)/;

/** Validates a key: 1..maxBytes UTF-8 bytes, no control characters, no dot segments. */
export function validateKey(key: string, maxBytes: number, where: 'path' | 'body'): string {
  if (key.length === 0) throw new AppError('INVALID_KEY', 'the key is empty');
  if (CONTROL.test(key)) throw new AppError('INVALID_KEY', 'the key contains a control character');
  if (!key.isWellFormed()) {
    throw new AppError('INVALID_KEY', 'the key is not valid Unicode');
  }
  if (DOT_SEGMENT.test(key)) {
    throw new AppError('INVALID_KEY', 'the key has a "." or ".." segment between "/"');
  }
  const bytes = Buffer.byteLength(key, 'utf8');
  if (bytes > maxBytes) {
    const detail = `the key is ${String(bytes)} bytes; the limit is ${String(maxBytes)}`;
    throw where === 'path'
      ? new AppError('KEY_TOO_LONG', detail)
      : new AppError('VALIDATION_FAILED', detail, { errors: [{ path: 'key', message: detail }] });
  }
  return key;
}

/**
 * The key is the percent-decoded remainder of the path after `prefix`, taken from the raw URL so
 * that `%2F` stays part of the key and invalid UTF-8 is rejected rather than guessed at.
 */
export function keyFromUrl(url: string, prefix: string, maxBytes: number): string {
  // Absolute-form only when it does not start with "/": a key may contain "://".
  const schemeEnd = url.startsWith('/') ? -1 : url.indexOf('://');
  const pathStart = url.indexOf('/', schemeEnd === -1 ? 0 : schemeEnd + 3);
  let end = url.length;
  const q = url.indexOf('?', pathStart);
  if (q !== -1) end = q;
  const h = url.indexOf('#', pathStart);
  if (h !== -1 && h < end) end = h;
  const path = url.slice(pathStart, end);
  if (!path.startsWith(prefix)) throw new AppError('INVALID_KEY', 'no key in the path');
  const raw = path.slice(prefix.length);
  if (raw.length > maxBytes * 3 + 16) {
    throw new AppError('KEY_TOO_LONG', `the key is longer than ${String(maxBytes)} bytes`);
  }
  let key: string;
  try {
    key = decodeURIComponent(raw);
  } catch {
    throw new AppError('INVALID_KEY', 'the key is not valid percent-encoded UTF-8');
  }
  return validateKey(key, maxBytes, 'path');
}
