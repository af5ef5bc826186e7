import { OpenAPIHono } from '@hono/zod-openapi';

import type { ApiDeps } from './deps.ts';
import { createAccessLog } from './middleware/access-log.ts';
import { createErrorHandler, notFound, validationHook } from './middleware/errors.ts';
import { bearerTokens, requestContext } from './middleware/request-context.ts';
import { registerDocumentComponents } from './openapi/document.ts';
import { registerDeadLetterRoutes } from './routes/dead-letters.ts';
import { registerDocsRoutes } from './routes/docs.ts';
import { registerHealthRoutes } from './routes/health.ts';
import { registerKeyRoutes } from './routes/keys.ts';
import { registerOpRoutes } from './routes/ops.ts';

/** Builds the HTTP app. Pure wiring: every client it talks to arrives in `deps`. */
export function createApp(deps: ApiDeps): OpenAPIHono {
  const app = new OpenAPIHono({ defaultHook: validationHook });
  // Request id and the raw request-target check, for every route (the raw fast lane in
  // raw-paths.ts calls the same functions).
  app.use(requestContext());
  // The access log is the same function the raw fast lane calls; when off it is not installed.
  const accessLog = createAccessLog(deps);
  if (accessLog) {
    app.use(async (c, next) => {
      const started = performance.now();
      await next();
      accessLog(c.req.method, c.req.path, c.res.status, started, c.get('requestId'));
    });
  }

  const auth = bearerTokens(deps.apiTokens);
  if (auth) app.use('/v1/*', auth);
  registerHealthRoutes(app, deps);
  registerKeyRoutes(app, deps);
  registerOpRoutes(app, deps);
  registerDeadLetterRoutes(app, deps);

  registerDocsRoutes(app, deps.docsEnabled);
  registerDocumentComponents(app);

  app.notFound(notFound);
  app.onError(createErrorHandler(deps.logger));
  return app;
}
