import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';

import type { ApiDeps } from '../deps.ts';
import { responseHeaders } from '../openapi/headers.ts';
import { problemResponses } from '../openapi/problems.ts';
import { health } from '../schemas.ts';

const healthz = createRoute({
  method: 'get',
  path: '/healthz',
  operationId: 'liveness',
  tags: ['health'],
  summary: 'Liveness: the process is serving',
  responses: {
    200: {
      description: 'Alive',
      headers: responseHeaders(),
      content: { 'application/json': { schema: health, example: { status: 'ok' } } },
    },
    ...problemResponses([]),
  },
});

const readyz = createRoute({
  method: 'get',
  path: '/readyz',
  operationId: 'readiness',
  tags: ['health'],
  summary: 'Readiness: both Redis answer and the process is not shutting down',
  responses: {
    200: {
      description: 'Ready',
      headers: responseHeaders(),
      content: { 'application/json': { schema: health } },
    },
    ...problemResponses([]),
    503: {
      description: 'Not ready: the checks say which part is not',
      headers: responseHeaders({ 'retry-after': true }),
      content: {
        'application/json': {
          schema: health,
          example: {
            status: 'not ready',
            checks: { queueRedis: 'up', dataRedis: 'down', lifecycle: 'running' },
          },
        },
      },
    },
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
  app.openapi(healthz, (c) => c.json({ status: 'ok' as const }, 200));
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
      lifecycle: shuttingDown ? ('stopping' as const) : ('running' as const),
    };
    if (!ok) c.header('retry-after', '1');
    return ok
      ? c.json({ status: 'ready' as const, checks }, 200)
      : c.json({ status: 'not ready' as const, checks }, 503);
  });
}
