import { AppError, type ErrorCode, isOutOfMemory, isTransient } from '../core/index.ts';

type UnavailableCode = Extract<ErrorCode, 'QUEUE_UNAVAILABLE' | 'DATA_UNAVAILABLE'>;

const FULL = { QUEUE_UNAVAILABLE: 'QUEUE_FULL', DATA_UNAVAILABLE: 'DATA_FULL' } as const;

/**
 * A connection-level Redis failure as a retryable AppError (503 + Retry-After over HTTP, a retry
 * in workers); a Redis over its maxmemory as QUEUE_FULL or DATA_FULL (also 503 and retryable:
 * memory frees as receipts expire); any other error unchanged.
 */
export function unavailable(err: unknown, code: UnavailableCode): unknown {
  if (err instanceof AppError) return err;
  const which = code === 'QUEUE_UNAVAILABLE' ? 'queue' : 'data';
  if (isOutOfMemory(err)) {
    return new AppError(FULL[code], `${which} Redis is full: ${(err as Error).message}`, {
      cause: err,
      headers: { 'retry-after': '5' },
    });
  }
  if (!isTransient(err)) return err;
  return new AppError(code, `${which} Redis: ${(err as Error).message}`, {
    cause: err,
    headers: { 'retry-after': '1' },
  });
}

/** `p`, with its connection-level failures turned into a retryable AppError (see unavailable). */
export function guard<T>(p: Promise<T>, code: UnavailableCode): Promise<T> {
  // A plain catch, not an async wrapper: one promise less on every Redis call.
  return p.catch((err: unknown) => {
    throw unavailable(err, code);
  });
}
