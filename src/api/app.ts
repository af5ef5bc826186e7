import { OpenAPIHono } from '@hono/zod-openapi';

import { authGate } from './auth/gate.ts';
import type { ApiDeps } from './deps.ts';
import { createRequestRecorder, routeLabel } from './middleware/access-log.ts';
import { createErrorHandler, notFound, validationHook } from './middleware/errors.ts';
import { authorizationLines, requestContext } from './middleware/request-context.ts';
import { registerDocumentComponents } from './openapi/document.ts';
import { registerAdminKeyRoutes } from './routes/admin-keys.ts';
import { registerDeadLetterRoutes } from './routes/dead-letters.ts';
import { registerDocsRoutes } from './routes/docs.ts';
import { registerHealthRoutes } from './routes/health.ts';
import { registerKeyRoutes } from './routes/keys.ts';
import { registerOpRoutes } from './routes/ops.ts';

/** Builds the HTTP app. Pure wiring: every client it talks to arrives in `deps`. */
export function createApp(deps: ApiDeps): OpenAPIHono {
  const app = new OpenAPIHono({ defaultHook: validationHook });
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

  // Authentication and the route's scope (access.ts), for every route the table does not leave
  // open; the raw fast lane checks the same, through the same functions.
  if (deps.auth) app.use(authGate(deps.auth, authorizationLines, deps.onAuthDenied));
  registerHealthRoutes(app, deps);
  registerKeyRoutes(app, deps);
  registerOpRoutes(app, deps);
  registerDeadLetterRoutes(app, deps);
  registerAdminKeyRoutes(app, deps.apiKeys);

  registerDocsRoutes(app, deps.docsEnabled);
  registerDocumentComponents(app);

  app.notFound(notFound);
  app.onError(createErrorHandler(deps.logger));
  return app;
}
