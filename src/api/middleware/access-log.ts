import type { ApiDeps } from '../deps.ts';

/** Logs one answered request; `startedMs` is `performance.now()` when it arrived. */
export type AccessLog = (
  method: string,
  path: string,
  status: number,
  startedMs: number,
  requestId: string | undefined,
) => void;

/**
 * The access log both transports call (Hono's middleware and the raw fast lane in raw-paths.ts),
 * or undefined when it is off, so that an off log costs nothing per request. On at info level
 * when `deps.accessLog` is set (`kvq dev` on a terminal, or ACCESS_LOG=true), else only at debug
 * level. 5xx answers are logged by the error handler either way.
 */
export function createAccessLog(
  deps: Pick<ApiDeps, 'logger' | 'accessLog'>,
): AccessLog | undefined {
  const { logger } = deps;
  const level = deps.accessLog === true ? 'info' : 'debug';
  if (deps.accessLog === false || !logger.isLevelEnabled(level)) return undefined;
  return (method, path, status, startedMs, requestId) => {
    logger[level](
      {
        method,
        path,
        status,
        ms: Math.round((performance.now() - startedMs) * 100) / 100,
        requestId,
      },
      'request',
    );
  };
}
