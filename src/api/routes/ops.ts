import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';

import { AppError } from '../../core/index.ts';
import { publicReceipt } from '../../store/index.ts';
import type { ApiDeps } from '../deps.ts';
import { preferWaitSeconds } from '../http-headers.ts';
import { opEnvelope, opIdParam, problemResponses } from '../schemas.ts';

const getOpRoute = createRoute({
  method: 'get',
  path: '/v1/ops/{id}',
  summary: 'Read a write receipt (Prefer: wait=N long-polls until it is terminal)',
  request: { params: opIdParam },
  responses: {
    200: { description: 'The receipt', content: { 'application/json': { schema: opEnvelope } } },
    ...problemResponses(404, 503),
  },
});

export function registerOpRoutes(app: OpenAPIHono, deps: ApiDeps): void {
  app.openapi(getOpRoute, async (c) => {
    const { id } = c.req.valid('param');
    if (id.length > 128) throw new AppError('OP_NOT_FOUND', 'no such op');
    const waitS = preferWaitSeconds(c.req.header('Prefer'));
    const r = await deps.waiter.wait(id, (waitS ?? 0) * 1000);
    if (!r) throw new AppError('OP_NOT_FOUND', `no op ${id} (unknown, or its receipt expired)`);
    if (waitS !== undefined) c.header('Preference-Applied', `wait=${String(waitS)}`);
    return c.json({ op: publicReceipt(r) }, 200);
  });
}
