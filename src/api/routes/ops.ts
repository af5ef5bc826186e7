import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';

import { AppError } from '../../core/index.ts';
import { publicReceipt } from '../../store/index.ts';
import { principalOf, waitForReadableOp } from '../auth/gate.ts';
import type { ApiDeps } from '../deps.ts';
import { preferWaitSeconds } from '../http-headers.ts';
import * as ex from '../openapi/examples.ts';
import { headerParams, responseHeaders } from '../openapi/headers.ts';
import { problemResponses } from '../openapi/problems.ts';
import { opEnvelope, opIdParam } from '../schemas.ts';

const getOpRoute = createRoute({
  method: 'get',
  path: '/v1/ops/{id}',
  operationId: 'getOp',
  tags: ['ops'],
  security: [{ bearerAuth: [] }],
  summary: 'Read a write receipt (prefer: wait=N long-polls until it is terminal)',
  parameters: headerParams('PreferWait'),
  request: { params: opIdParam },
  responses: {
    200: {
      description: 'The receipt',
      headers: responseHeaders({ 'preference-applied': false }),
      content: { 'application/json': { schema: opEnvelope, example: { op: ex.appliedReceipt } } },
    },
    ...problemResponses(['OP_NOT_FOUND', 'QUEUE_UNAVAILABLE'], { v1: true }),
  },
});

export function registerOpRoutes(app: OpenAPIHono, deps: ApiDeps): void {
  app.openapi(getOpRoute, async (c) => {
    const { id } = c.req.valid('param');
    if (id.length > 128) throw new AppError('OP_NOT_FOUND', 'no such op');
    const waitS = preferWaitSeconds(c.req.header('prefer'));
    const r = await waitForReadableOp(deps.waiter, principalOf(c), id, (waitS ?? 0) * 1000);
    if (!r) throw new AppError('OP_NOT_FOUND', `no op ${id} (unknown, or its receipt expired)`);
    if (waitS !== undefined) c.header('preference-applied', `wait=${String(waitS)}`);
    return c.json({ op: publicReceipt(r) }, 200);
  });
}
