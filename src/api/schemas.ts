import { z } from '@hono/zod-openapi';

import { OP_STATUSES, OP_TYPES } from '../core/index.ts';

/**
 * Zod schemas shared by request validation and the OpenAPI document: what is documented is
 * exactly what is enforced.
 */

const MAX_TTL_SECONDS = 10 * 365 * 24 * 3600;

export const jsonValue = z
  .unknown()
  .refine((v) => v !== undefined, { message: 'required: any JSON value' })
  .openapi({ description: 'Any JSON value (object, array, string, number, boolean or null).' });

export const ttlSeconds = z
  .number()
  .int()
  .min(1)
  .max(MAX_TTL_SECONDS)
  .openapi({ description: 'Expire the key this many seconds after the write is applied.' });

export const putBody = z
  .strictObject({ value: jsonValue, ttlSeconds: ttlSeconds.optional() })
  .openapi('PutBody');

export const createBody = z
  .strictObject({
    key: z.string().min(1).openapi({ description: 'The key to create.' }),
    value: jsonValue,
    ttlSeconds: ttlSeconds.optional(),
  })
  .openapi('CreateBody');

export const keyParam = z.object({
  key: z
    .string()
    .min(1)
    .openapi({
      param: { name: 'key', in: 'path' },
      description: 'The key, URL-encoded; it may contain "/".',
      example: 'users/42',
    }),
});

export const opIdParam = z.object({
  id: z
    .string()
    .min(1)
    .openapi({ param: { name: 'id', in: 'path' } }),
});

export const opError = z.object({ code: z.string(), message: z.string() }).openapi('OpError');

export const opReceipt = z
  .object({
    id: z.string(),
    key: z.string(),
    type: z.enum(OP_TYPES),
    version: z.number().int(),
    status: z.enum(OP_STATUSES),
    attempts: z.number().int(),
    error: opError.optional(),
    acceptedAt: z.string(),
    decidedAt: z.string().optional().openapi({
      description:
        'A conditional write, create or delete: when it was decided (data Redis clock), against the key with none of its writes pending',
    }),
    appliedAt: z.string().optional(),
    expiresAt: z.string().optional().openapi({ description: 'An applied put with a TTL' }),
    replayOf: z.string().optional().openapi({ description: 'A dead-letter replay: the dead op' }),
  })
  .openapi('OpReceipt');

export const opEnvelope = z.object({ op: opReceipt }).openapi('OpEnvelope');

export const record = z
  .object({
    key: z.string(),
    value: jsonValue,
    version: z.number().int(),
    createdAt: z.string(),
    updatedAt: z.string(),
    expiresAt: z.string().nullable(),
  })
  .openapi('Record');

export const listQuery = z.object({
  prefix: z.string().optional().openapi({ description: 'Only keys starting with this.' }),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  cursor: z.string().optional().openapi({ description: 'nextCursor from the previous page.' }),
});

export const listResult = z
  .object({
    items: z.array(
      z.object({
        key: z.string(),
        version: z.number().int(),
        updatedAt: z.string(),
        expiresAt: z.string().nullable(),
      }),
    ),
    nextCursor: z.string().nullable(),
  })
  .openapi('KeyList');

export const readQuery = z.object({
  after: z
    .string()
    .min(1)
    .optional()
    .openapi({ description: 'Op id: wait (bounded) until that op is terminal, then read.' }),
});

export const problem = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    code: z.string(),
    requestId: z.string(),
    errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
    decidedAfterVersion: z.number().int().optional().openapi({
      description:
        "A failed condition (412/409/404 on a write): the key's last accepted version when it was decided",
    }),
    currentVersion: z
      .number()
      .int()
      .nullable()
      .optional()
      .openapi({ description: 'A failed condition: the version the key was live at, or null' }),
    decidedAt: z
      .string()
      .optional()
      .openapi({ description: 'A failed condition: when it was decided (data Redis clock)' }),
  })
  .openapi('Problem');

export const health = z
  .object({
    status: z.string(),
    checks: z.record(z.string(), z.string()).optional(),
  })
  .openapi('Health');

/** OpenAPI response entries: a problem+json body for each listed status. */
export const problemResponses = (...statuses: number[]) =>
  Object.fromEntries(
    statuses.map((s) => [
      s,
      { description: 'Problem', content: { 'application/problem+json': { schema: problem } } },
    ]),
  );
