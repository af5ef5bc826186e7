import type { OpenAPIHono } from '@hono/zod-openapi';

import { AppError } from '../../core/index.ts';
import { type ApiKeyStore, newApiKey, publicApiKey, type StoredApiKey } from '../../store/index.ts';
import type { Auditor } from '../audit.ts';
import { jsonBody } from '../middleware/json-body.ts';
import {
  createApiKeyRoute,
  getApiKeyRoute,
  listApiKeysRoute,
  revokeApiKeyRoute,
} from '../openapi/admin-key-routes.ts';

/** The admin API for API keys; creating and revoking one are written to the audit log. */
export function registerAdminKeyRoutes(
  app: OpenAPIHono,
  store: ApiKeyStore,
  auditor: Auditor,
): void {
  app.openapi({ ...createApiKeyRoute, middleware: [jsonBody(64 * 1024)] }, async (c) => {
    const body = c.req.valid('json');
    let made: { key: StoredApiKey; secret: string };
    try {
      made = newApiKey({
        name: body.name,
        scope: body.scope,
        prefixRules: body.prefixes?.map((r) => ({
          prefix: r.prefix,
          scope: r.scope ?? body.scope,
        })),
        expiresInSeconds: body.expiresInSeconds,
        rateLimitPerSecond: body.rateLimitPerSecond,
        now: Date.now(),
      });
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      await auditor.record(
        c,
        { action: 'key.create', target: body.name, detail: message },
        { outcome: 'refused', code: 'VALIDATION_FAILED' },
      );
      throw new AppError('VALIDATION_FAILED', message, {
        errors: [{ path: 'prefixes', message }],
      });
    }
    const key = made.key;
    await auditor.audited(c, { action: 'key.create', target: key.id }, () => store.create(key));
    return c.json({ key: publicApiKey(made.key), secret: made.secret }, 201);
  });

  app.openapi(listApiKeysRoute, async (c) => {
    const keys = await store.list();
    return c.json({ items: keys.map(publicApiKey) }, 200);
  });

  app.openapi(getApiKeyRoute, async (c) => {
    const { id } = c.req.valid('param');
    const k = await store.byId(id);
    if (!k) throw new AppError('API_KEY_NOT_FOUND', `no API key ${id}`);
    return c.json(publicApiKey(k), 200);
  });

  app.openapi(revokeApiKeyRoute, async (c) => {
    const { id } = c.req.valid('param');
    await auditor.audited(c, { action: 'key.revoke', target: id }, async () => {
      const k = await store.revoke(id, Date.now());
      if (!k) throw new AppError('API_KEY_NOT_FOUND', `no API key ${id}`);
    });
    return c.body(null, 204);
  });
}
