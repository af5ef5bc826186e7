import type { OpenAPIHono } from '@hono/zod-openapi';

import type { ApiDeps } from '../deps.ts';
import { auditRoute } from '../openapi/admin-routes.ts';

/** The admin API: the audit log (GET /v1/admin/audit). Admin scope is checked in app.ts. */
export function registerAdminRoutes(app: OpenAPIHono, deps: Pick<ApiDeps, 'auditLog'>): void {
  app.openapi(auditRoute, async (c) => {
    const q = c.req.valid('query');
    const page = await deps.auditLog.page({ limit: q.limit, cursor: q.cursor });
    const items = page.items.map((e) => ({ ...e, time: new Date(e.time).toISOString() }));
    return c.json({ items, nextCursor: page.nextCursor }, 200);
  });
}
