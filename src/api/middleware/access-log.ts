import type { Context } from 'hono';
import { matchedRoutes } from 'hono/route';

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
 * What both transports call once per answered request (Hono's middleware and the raw fast lane
 * in raw-paths.ts): the access log and the HTTP metrics, fed from this one place. `route` is the
 * route template (`/v1/keys/{key}`, never the raw path), `UNMATCHED_ROUTE` for a path no route
 * serves. Undefined when both are off, so that they cost nothing per request then.
 */
export type RequestRecorder = (
  method: string,
  route: string,
  path: string,
  status: number,
  startedMs: number,
  requestId: string | undefined,
) => void;

/** The route label of a request no route serves (bounded: one label for every such path). */
export const UNMATCHED_ROUTE = 'unmatched';

/**
 * The access log, or undefined when it is off. On at info level when `deps.accessLog` is set
 * (`kvq dev` on a terminal, or ACCESS_LOG=true), else only at debug level. 5xx answers are logged
 * by the error handler either way.
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

/** The access log and the metrics together (see RequestRecorder); undefined when both are off. */
export function createRequestRecorder(
  deps: Pick<ApiDeps, 'logger' | 'accessLog' | 'metrics'>,
): RequestRecorder | undefined {
  const log = createAccessLog(deps);
  const metrics = deps.metrics;
  if (!metrics) {
    return (
      log &&
      ((method, _route, path, status, started, id) => {
        log(method, path, status, started, id);
      })
    );
  }
  return (method, route, path, status, started, id) => {
    metrics.observeRequest(method, route, status, started);
    log?.(method, path, status, started, id);
  };
}

/** Hono patterns as the OpenAPI document spells them; computed once per pattern. */
const labels = new Map<string, string>([['/v1/keys/*', '/v1/keys/{key}']]);

/**
 * The template of the route that served a Hono request: the last matched route registered for a
 * method (middleware is registered for all methods), `:name` written `{name}`.
 */
export function routeLabel(c: Context): string {
  const routes = matchedRoutes(c);
  for (let i = routes.length - 1; i >= 0; i--) {
    const r = routes[i];
    if (r && r.method !== 'ALL') {
      let label = labels.get(r.path);
      if (label === undefined) {
        label = r.path.replace(/:([A-Za-z0-9_]+)(\{[^}]*\})?/g, '{$1}');
        labels.set(r.path, label);
      }
      return label;
    }
  }
  return UNMATCHED_ROUTE;
}
