import { AppError, type ErrorCode, isTransient } from '../core/index.ts';

type UnavailableCode = Extract<ErrorCode, 'QUEUE_UNAVAILABLE' | 'DATA_UNAVAILABLE'>;

/**
 * A connection-level Redis failure as a retryable AppError (503 + Retry-After over HTTP, a retry
 * in workers); any other error unchanged.
 */
export function unavailable(err: unknown, code: UnavailableCode): unknown {
  if (err instanceof AppError || !isTransient(err)) return err;
  return new AppError(
    code,
    `${code === 'QUEUE_UNAVAILABLE' ? 'queue' : 'data'} Redis: ${(err as Error).message}`,
    { cause: err, headers: { 'Retry-After': '1' } },
  );
}

/** `p`, with its connection-level failures turned into a retryable AppError (see unavailable). */
export function guard<T>(p: Promise<T>, code: UnavailableCode): Promise<T> {
  // A plain catch, not an async wrapper: one promise less on every Redis call.
  return p.catch((err: unknown) => {
    throw unavailable(err, code);
  });
}
