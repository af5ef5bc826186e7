import { AppError, type Condition } from '../core/index.ts';

/** Longest `Prefer: wait` honoured, in seconds. */
export const MAX_WAIT_SECONDS = 30;

/**
 * Parses `Prefer: wait=N` (RFC 7240). Preferences are advisory, so an unparsable one is ignored
 * rather than rejected; N above 30 is capped at 30.
 */
export function preferWaitSeconds(header: string | undefined): number | undefined {
  if (!header) return undefined;
  for (const part of header.split(',')) {
    const m = /^\s*wait\s*=\s*"?(\d{1,6})"?\s*(?:;.*)?$/i.exec(part);
    if (m?.[1] !== undefined) return Math.min(Number(m[1]), MAX_WAIT_SECONDS);
  }
  return undefined;
}

/** Parses write preconditions: If-None-Match: * | If-Match: * | If-Match: "N". */
export function parseWriteCondition(
  ifMatch: string | undefined,
  ifNoneMatch: string | undefined,
): Condition | undefined {
  if (ifMatch !== undefined && ifNoneMatch !== undefined) {
    throw new AppError('INVALID_HEADER', 'send at most one of If-Match and If-None-Match');
  }
  if (ifNoneMatch !== undefined) {
    if (ifNoneMatch.trim() === '*') return { kind: 'absent' };
    throw new AppError('INVALID_HEADER', 'on writes, If-None-Match supports only "*"');
  }
  if (ifMatch === undefined) return undefined;
  const v = ifMatch.trim();
  if (v === '*') return { kind: 'exists' };
  const m = /^(W\/)?"(\d{1,15})"$/.exec(v);
  if (m?.[2] === undefined) {
    throw new AppError('INVALID_HEADER', 'If-Match must be "*" or a quoted version such as "3"');
  }
  // If-Match compares strongly (RFC 9110 section 13.1.1): a weak tag, or a version written
  // otherwise than kvq writes its ETags ("01"), matches no current ETag.
  if (m[1] !== undefined || String(Number(m[2])) !== m[2]) {
    throw new AppError('PRECONDITION_FAILED', `If-Match: ${v} matches no ETag kvq issues`);
  }
  return { kind: 'version', version: Number(m[2]) };
}

/** True when a read's If-None-Match names the current ETag (or "*"). */
export function etagMatches(ifNoneMatch: string | undefined, version: number): boolean {
  if (!ifNoneMatch) return false;
  const tag = `"${String(version)}"`;
  return ifNoneMatch.split(',').some((t) => {
    const s = t.trim();
    return s === '*' || s === tag || s === `W/${tag}`;
  });
}

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

export function parseIdempotencyKey(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  if (!IDEMPOTENCY_KEY.test(header)) {
    throw new AppError('INVALID_HEADER', 'Idempotency-Key must be 1-255 visible ASCII characters');
  }
  return header;
}
