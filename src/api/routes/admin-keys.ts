import type { OpenAPIHono, z } from '@hono/zod-openapi';

import {
  apiKeyDigest,
  AppError,
  generateApiKey,
  generateKeyId,
  keyFingerprint,
} from '../../core/index.ts';
import { type ApiKeyStore, checkApiKey, type StoredApiKey } from '../../store/index.ts';
import { jsonBody } from '../middleware/json-body.ts';
import {
  type apiKeyInfo,
  createApiKeyRoute,
  getApiKeyRoute,
  listApiKeysRoute,
  revokeApiKeyRoute,
} from '../openapi/admin-key-routes.ts';

const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());

/** A stored key as the admin API shows it: never the secret, only a short fingerprint. */
export function apiKeyView(k: StoredApiKey): z.infer<typeof apiKeyInfo> {
  return {
    id: k.id,
    name: k.name,
    scope: k.scope,
    prefixes: k.prefixRules?.map((r) => ({ prefix: r.prefix, scope: r.scope })) ?? null,
    createdAt: new Date(k.createdAt).toISOString(),
    expiresAt: iso(k.expiresAt),
    revokedAt: iso(k.revokedAt),
    rateLimitPerSecond: k.rateLimitPerSecond ?? null,
    fingerprint: keyFingerprint(k.digest),
  };
}

/** A new key from what an operator asked for (admin API and CLI); the secret with it. */
export function newApiKey(input: {
  name: string;
  scope: StoredApiKey['scope'];
  prefixRules?: StoredApiKey['prefixRules'];
  expiresInSeconds?: number | undefined;
  rateLimitPerSecond?: number | undefined;
  now: number;
}): { key: StoredApiKey; secret: string } {
  const secret = generateApiKey();
  const key: StoredApiKey = {
    id: generateKeyId(),
    name: input.name,
    digest: apiKeyDigest(secret),
    scope: input.scope,
    prefixRules: input.prefixRules,
    createdAt: input.now,
    expiresAt:
      input.expiresInSeconds === undefined ? undefined : input.now + input.expiresInSeconds * 1000,
    rateLimitPerSecond: input.rateLimitPerSecond,
  };
  return { key: checkApiKey(key), secret };
}

export function registerAdminKeyRoutes(app: OpenAPIHono, store: ApiKeyStore): void {
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
      throw new AppError('VALIDATION_FAILED', message, {
        errors: [{ path: 'prefixes', message }],
      });
    }
    await store.create(made.key);
    return c.json({ key: apiKeyView(made.key), secret: made.secret }, 201);
  });

  app.openapi(listApiKeysRoute, async (c) => {
    const keys = await store.list();
    return c.json({ items: keys.map(apiKeyView) }, 200);
  });

  app.openapi(getApiKeyRoute, async (c) => {
    const { id } = c.req.valid('param');
    const k = await store.byId(id);
    if (!k) throw new AppError('API_KEY_NOT_FOUND', `no API key ${id}`);
    return c.json(apiKeyView(k), 200);
  });

  app.openapi(revokeApiKeyRoute, async (c) => {
    const { id } = c.req.valid('param');
    const k = await store.revoke(id, Date.now());
    if (!k) throw new AppError('API_KEY_NOT_FOUND', `no API key ${id}`);
    return c.body(null, 204);
  });
}
