import type { Context, ErrorHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';

import { AppError, type ErrorCode, type Logger } from '../../core/index.ts';
import { problemResponse, requestIdOf } from '../problem.ts';

const HTTP_EXCEPTION_CODES: Record<number, ErrorCode> = {
  400: 'MALFORMED_JSON',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
};

/**
 * The AppError an error is answered with: itself (5xx logged as a warning), or, for anything
 * unexpected, a logged 500. Shared by Hono's error handler and the raw paths.
 */
export function answerableError(
  err: unknown,
  logger: Logger,
  requestId: string,
  path: string,
): AppError {
  if (err instanceof AppError) {
    if (err.status >= 500) {
      logger.warn({ code: err.code, detail: err.detail, requestId }, 'request failed');
    }
    return err;
  }
  logger.error({ err, requestId, path }, 'unhandled error');
  return new AppError('INTERNAL', 'internal error; see the server log');
}

/** The single error renderer: AppErrors become problem+json; anything else is a logged 500. */
export function createErrorHandler(logger: Logger): ErrorHandler {
  return (err: Error, c: Context) => {
    if (err.name === 'NotARoute') return notFound(c);
    if (err instanceof HTTPException) {
      const challenge = err.getResponse().headers.get('WWW-Authenticate');
      if (challenge) {
        return problemResponse(
          c,
          new AppError('UNAUTHORIZED', 'send Authorization: Bearer <token>', {
            headers: { 'www-authenticate': challenge },
          }),
        );
      }
      const code = HTTP_EXCEPTION_CODES[err.status];
      if (code) return problemResponse(c, new AppError(code, err.message));
    }
    return problemResponse(c, answerableError(err, logger, requestIdOf(c), c.req.path));
  };
}

/** Routes and their methods, for 405 + Allow on a known path with the wrong method. */
const ROUTE_METHODS: [RegExp, string][] = [
  [/^\/v1\/keys\/?$/, 'GET, HEAD, POST'],
  [/^\/v1\/keys\/.+$/, 'GET, HEAD, PUT, DELETE'],
  [/^\/v1\/ops\/[^/]+$/, 'GET, HEAD'],
  [/^\/v1\/dlq\/?$/, 'GET, HEAD'],
  [/^\/v1\/dlq\/retry$/, 'POST'],
  [/^\/v1\/dlq\/[^/]+\/retry$/, 'POST'],
  [/^\/v1\/dlq\/[^/]+$/, 'GET, HEAD, DELETE'],
  [/^\/v1\/admin\/audit$/, 'GET, HEAD'],
  [/^\/(?:healthz|readyz|openapi\.json|docs|docs\/[^/]+)?$/, 'GET, HEAD'],
];

export const notFound = (c: Context): Response => {
  const path = c.req.path;
  const readOnly = c.req.method === 'GET' || c.req.method === 'HEAD';
  for (const [re, allow] of ROUTE_METHODS) {
    // A GET that reached here found no route (e.g. /docs switched off): that is a 404.
    if (re.test(path) && !readOnly) {
      return problemResponse(
        c,
        new AppError('METHOD_NOT_ALLOWED', `${c.req.method} is not allowed here; use ${allow}`, {
          headers: { allow },
        }),
      );
    }
  }
  return problemResponse(
    c,
    new AppError('ROUTE_NOT_FOUND', `no route for ${c.req.method} ${path}`),
  );
};

/** zod's issues as one problem+json 400, every issue listed. */
export function validationError(issues: { path: PropertyKey[]; message: string }[]): AppError {
  const errors = issues.map((i) => ({
    path: i.path.map(String).join('.'),
    message: i.message,
  }));
  return new AppError(
    'VALIDATION_FAILED',
    errors.map((e) => (e.path ? `${e.path}: ${e.message}` : e.message)).join('; '),
    { errors },
  );
}

/** zod-openapi's validation hook. */
export function validationHook(result: {
  success: boolean;
  error?: { issues: { path: PropertyKey[]; message: string }[] };
}): void {
  if (result.success) return;
  throw validationError(result.error?.issues ?? []);
}
