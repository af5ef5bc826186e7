import { AppError, type ErrorCode, isTransient } from '../core/index.ts';

/**
 * Turns connection-level Redis failures into a retryable AppError (503 + Retry-After over HTTP,
 * a retry in workers). Logic errors pass through unchanged.
 */
export function guard<T>(
  p: Promise<T>,
  code: Extract<ErrorCode, 'QUEUE_UNAVAILABLE' | 'DATA_UNAVAILABLE'>,
): Promise<T> {
  // A plain catch, not an async wrapper: one promise less on every Redis call.
  return p.catch((err: unknown) => {
    if (err instanceof AppError) throw err;
    if (isTransient(err)) {
      throw new AppError(
        code,
        `${code === 'QUEUE_UNAVAILABLE' ? 'queue' : 'data'} Redis: ${(err as Error).message}`,
        {
          cause: err,
          headers: { 'Retry-After': '1' },
        },
      );
    }
    throw err;
  });
}
