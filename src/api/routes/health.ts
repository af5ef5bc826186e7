import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';

import type { ApiDeps } from '../deps.ts';
import { health } from '../schemas.ts';

const healthz = createRoute({
  method: 'get',
  path: '/healthz',
  summary: 'Liveness: the process is serving',
  responses: { 200: { description: 'Alive', content: { 'application/json': { schema: health } } } },
});

const readyz = createRoute({
  method: 'get',
  path: '/readyz',
  summary: 'Readiness: both Redis answer and the process is not shutting down',
  responses: {
    200: { description: 'Ready', content: { 'application/json': { schema: health } } },
    503: { description: 'Not ready', content: { 'application/json': { schema: health } } },
  },
});

async function check(p: Promise<void>): Promise<'up' | 'down'> {
  try {
    await p;
    return 'up';
  } catch {
    return 'down';
  }
}

export function registerHealthRoutes(app: OpenAPIHono, deps: ApiDeps): void {
  app.openapi(healthz, (c) => c.json({ status: 'ok' }, 200));
  app.openapi(readyz, async (c) => {
    const [queue, data] = await Promise.all([
      check(deps.ledger.ping()),
      check(deps.records.ping()),
    ]);
    const shuttingDown = deps.isShuttingDown();
    const ok = queue === 'up' && data === 'up' && !shuttingDown;
    const checks = {
      queueRedis: queue,
      dataRedis: data,
      lifecycle: shuttingDown ? 'stopping' : 'running',
    };
    if (!ok) c.header('Retry-After', '1');
    return ok
      ? c.json({ status: 'ready', checks }, 200)
      : c.json({ status: 'not ready', checks }, 503);
  });
}
