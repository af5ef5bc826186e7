import { createRoute, z } from '@hono/zod-openapi';

import { SCOPES } from '../../core/index.ts';
import { responseHeaders } from './headers.ts';
import { problemResponses } from './problems.ts';

/** The documented admin routes for API keys (served by routes/admin-keys.ts). */

const admin = { tags: ['admin'], security: [{ bearerAuth: ['admin'] }] };

const prefixRule = z.object({
  prefix: z.string().max(1024).openapi({ description: 'Keys that start with this string' }),
  scope: z
    .enum([...SCOPES, 'none'])
    .optional()
    .openapi({ description: "The scope under the prefix (default: the key's); none denies" }),
});

export const apiKeyInfo = z
  .object({
    id: z.string().openapi({ description: 'Public id (what logs and the audit name)' }),
    name: z.string(),
    scope: z.enum(SCOPES),
    prefixes: z
      .array(z.object({ prefix: z.string(), scope: z.enum([...SCOPES, 'none']) }))
      .nullable()
      .openapi({
        description:
          'Null: every key. Else the longest matching prefix decides; none matching: denied',
      }),
    createdAt: z.string(),
    expiresAt: z.string().nullable(),
    revokedAt: z.string().nullable(),
    rateLimitPerSecond: z.number().nullable(),
    fingerprint: z
      .string()
      .openapi({ description: 'The first 8 hex digits of the SHA-256 of the key (never the key)' }),
  })
  .openapi('ApiKey', {
    example: {
      id: 'key_4fQ9xZ2bLmP0',
      name: 'acme-ci',
      scope: 'write',
      prefixes: [{ prefix: 'acme/', scope: 'write' }],
      createdAt: '2026-12-03T10:00:00.000Z',
      expiresAt: '2027-01-02T10:00:00.000Z',
      revokedAt: null,
      rateLimitPerSecond: 50,
      fingerprint: '9c1e5a07',
    },
  });

export const createApiKeyBody = z
  .strictObject({
    // Printed by `kvq keys list` and in logs: no control characters (terminal escapes). The
    // pattern is spelt without \p{} so that OpenAPI tools read it.
    name: z
      .string()
      .min(1)
      .max(200)
      // eslint-disable-next-line no-control-regex
      .regex(/^[^\u0000-\u001f\u007f-\u009f]*$/, { error: 'no control characters' }),
    scope: z.enum(SCOPES),
    prefixes: z.array(prefixRule).min(1).max(100).optional(),
    expiresInSeconds: z
      .number()
      .int()
      .min(1)
      .max(10 * 365 * 24 * 3600)
      .optional(),
    rateLimitPerSecond: z.number().positive().max(1_000_000).optional(),
  })
  .openapi('CreateApiKey', {
    example: {
      name: 'acme-ci',
      scope: 'write',
      prefixes: [{ prefix: 'acme/' }, { prefix: 'acme/config/', scope: 'read' }],
      expiresInSeconds: 2_592_000,
    },
  });

const idParam = z.object({
  id: z
    .string()
    .min(1)
    .max(64)
    .openapi({ param: { name: 'id', in: 'path' }, example: 'key_4fQ9xZ2bLmP0' }),
});

export const createApiKeyRoute = createRoute({
  ...admin,
  method: 'post',
  path: '/v1/admin/keys',
  operationId: 'createApiKey',
  summary: 'Create an API key; the answer holds the secret, shown this once',
  request: { body: { content: { 'application/json': { schema: createApiKeyBody } } } },
  responses: {
    201: {
      description: 'Created',
      headers: responseHeaders(),
      content: {
        'application/json': {
          schema: z.object({
            key: apiKeyInfo,
            secret: z.string().openapi({ description: 'The key: send it as a bearer token' }),
          }),
        },
      },
    },
    ...problemResponses(['VALIDATION_FAILED', 'MALFORMED_JSON', 'DATA_UNAVAILABLE'], {
      v1: true,
    }),
  },
});

export const listApiKeysRoute = createRoute({
  ...admin,
  method: 'get',
  path: '/v1/admin/keys',
  operationId: 'listApiKeys',
  summary: 'Every API key in the data Redis, revoked ones included (no secrets)',
  responses: {
    200: {
      description: 'The keys, oldest first',
      headers: responseHeaders(),
      content: { 'application/json': { schema: z.object({ items: z.array(apiKeyInfo) }) } },
    },
    ...problemResponses(['DATA_UNAVAILABLE'], { v1: true }),
  },
});

export const getApiKeyRoute = createRoute({
  ...admin,
  method: 'get',
  path: '/v1/admin/keys/{id}',
  operationId: 'getApiKey',
  summary: 'One API key (no secret)',
  request: { params: idParam },
  responses: {
    200: {
      description: 'The key',
      headers: responseHeaders(),
      content: { 'application/json': { schema: apiKeyInfo } },
    },
    ...problemResponses(['API_KEY_NOT_FOUND', 'DATA_UNAVAILABLE'], { v1: true }),
  },
});

export const revokeApiKeyRoute = createRoute({
  ...admin,
  method: 'delete',
  path: '/v1/admin/keys/{id}',
  operationId: 'revokeApiKey',
  summary: 'Revoke an API key (again: no change); it stops working within KEY_CACHE_MS',
  request: { params: idParam },
  responses: {
    204: { description: 'Revoked', headers: responseHeaders() },
    ...problemResponses(['API_KEY_NOT_FOUND', 'DATA_UNAVAILABLE'], { v1: true }),
  },
});
