import { OpenAPIHono } from '@hono/zod-openapi';

import { createAuditor } from './audit.ts';
import { authGate } from './auth/gate.ts';
import type { ApiDeps } from './deps.ts';
import { createRequestRecorder, routeLabel } from './middleware/access-log.ts';
import { createErrorHandler, notFound, validationHook } from './middleware/errors.ts';
import { limitFailedAuth, rateLimit, requestIdentity } from './middleware/rate-limit.ts';
import { authorizationLines, requestContext } from './middleware/request-context.ts';
import { traceRequests } from './middleware/trace-request.ts';
import { registerDocumentComponents } from './openapi/document.ts';
import { registerAdminRoutes } from './routes/admin.ts';
import { registerAdminKeyRoutes } from './routes/admin-keys.ts';
import { registerDeadLetterRoutes } from './routes/dead-letters.ts';
import { registerDocsRoutes } from './routes/docs.ts';
import { registerHealthRoutes } from './routes/health.ts';
import { registerKeyRoutes } from './routes/keys.ts';
import { registerOpRoutes } from './routes/ops.ts';
import { registerQueueBoard } from './routes/queue-board.ts';

/** Builds the HTTP app. Pure wiring: every client it talks to arrives in `deps`. */
export function createApp(deps: ApiDeps): OpenAPIHono {
  const app = new OpenAPIHono({ defaultHook: validationHook });
  // The request's span (tracing on), outermost so that every line logged for it carries it.
  const traced = traceRequests(deps.tracer);
  if (traced) app.use(traced);
  // The access log and the HTTP metrics: the same function the raw fast lane calls, first so
  // that it sees every answer (a refused request target included); when both are off it is not
  // installed.
  const record = createRequestRecorder(deps);
  if (record) {
    app.use(async (c, next) => {
      const started = performance.now();
      await next();
      record(c.req.method, routeLabel(c), c.req.path, c.res.status, started, c.get('requestId'));
    });
  }
  // Request id and the raw request-target check, for every route (the raw fast lane in
  // raw-paths.ts calls the same functions).
  app.use(requestContext());

  // Rate limits around authentication (see middleware/rate-limit.ts): a failed authentication
  // counts against the client address, then every request against its principal, else its
  // address.
  const limits = deps.rateLimits;
  if (limits) app.use('/v1/*', limitFailedAuth(limits));
  // Authentication and the route's scope (access.ts), for every route the table does not leave
  // open; the raw fast lane checks the same, through the same functions.
  if (deps.auth) app.use(authGate(deps.auth, authorizationLines, deps.onAuthDenied));
  const auditor = createAuditor({
    auditLog: deps.auditLog,
    logger: deps.logger,
    onWriteFailed: deps.metrics ? () => deps.metrics?.auditWriteFailed() : undefined,
    traceId: deps.traceId,
  });
  if (limits) app.use('/v1/*', rateLimit(limits.limiter, requestIdentity(limits)));
  registerHealthRoutes(app, deps);
  registerKeyRoutes(app, deps);
  registerOpRoutes(app, deps);
  registerDeadLetterRoutes(app, deps, auditor);
  registerAdminRoutes(app, deps);
  registerAdminKeyRoutes(app, deps.apiKeys, auditor);
  if (deps.board) {
    const auth = deps.auth;
    registerQueueBoard(app, {
      board: deps.board,
      authenticate: auth && ((lines) => auth.authenticate(lines)),
      onDenied: deps.onAuthDenied,
    });
  }

  registerDocsRoutes(app, deps.docsEnabled);
  registerDocumentComponents(app);

  app.notFound(notFound);
  app.onError(createErrorHandler(deps.logger));
  return app;
}
