import { z } from '@hono/zod-openapi';

import { conditionSchema, OP_STATUSES, OP_TYPES } from '../core/index.ts';
import * as ex from './openapi/examples.ts';

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
  .openapi('PutBody', { example: ex.putBody });

export const createBody = z
  .strictObject({
    key: z.string().min(1).openapi({ description: 'The key to create.' }),
    value: jsonValue,
    ttlSeconds: ttlSeconds.optional(),
  })
  .openapi('CreateBody', { example: ex.createBody });

export const keyParam = z.object({
  key: z
    .string()
    .min(1)
    .openapi({
      param: { name: 'key', in: 'path' },
      description: 'The key, URL-encoded; it may contain "/".',
      example: ex.KEY,
    }),
});

export const opIdParam = z.object({
  id: z
    .string()
    .min(1)
    .openapi({
      param: { name: 'id', in: 'path' },
      description: 'The op id, from a write answer (op.id or its location header).',
      example: ex.OP_ID,
    }),
});

export const opError = z
  .object({
    code: z.string().openapi({
      description:
        'A catalogue code (e.g. PRECONDITION_FAILED, KEY_EXISTS, OP_EXPIRED, VERSION_REISSUED) or a worker outcome (RETRIES_EXHAUSTED, JOB_LOST)',
    }),
    message: z.string(),
  })
  .openapi('OpError');

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
  .openapi('OpReceipt', {
    description:
      'A write receipt. `type` is what was written: put (PUT), create (POST /v1/keys) or delete.',
    example: ex.appliedReceipt,
  });

export const opEnvelope = z
  .object({ op: opReceipt })
  .openapi('OpEnvelope', { example: { op: ex.queuedReceipt } });

export const record = z
  .object({
    key: z.string(),
    value: jsonValue,
    version: z.number().int(),
    createdAt: z.string(),
    updatedAt: z.string(),
    expiresAt: z.string().nullable(),
    op: opReceipt.optional().openapi({
      description: 'Only in the answer to a write with prefer: wait: the receipt of that write',
    }),
  })
  .openapi('Record', { example: ex.record });

export const listQuery = z.object({
  prefix: z.string().optional().openapi({ description: 'Only keys starting with this.' }),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  cursor: z
    .string()
    .optional()
    .openapi({ description: 'nextCursor from the previous page.', example: ex.keyList.nextCursor }),
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
  .openapi('KeyList', { example: ex.keyList });

/** `?consistency=` of a key read. */
export const READ_CONSISTENCIES = ['primary', 'replicated'] as const;
export type ReadConsistency = (typeof READ_CONSISTENCIES)[number];

export const readQuery = z.object({
  after: z.string().min(1).optional().openapi({
    description:
      'Op id: wait (prefer: wait=N, else READ_AFTER_WAIT_MS) until that op is terminal, then read; 503 OP_PENDING if it is not.',
    example: ex.OP_ID,
  }),
  consistency: z.enum(READ_CONSISTENCIES).optional().openapi({
    description:
      '`primary` (default): what the data Redis primary holds now. `replicated`: answered only once MIN_REPLICA_ACKS replicas hold it too (one shared WAIT), so it survives a failover as an applied write does; 503 READ_NOT_REPLICATED if they do not confirm within REPLICA_ACK_TIMEOUT_MS.',
    example: 'replicated',
  }),
});

export const problem = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int().min(400).max(599),
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
    opId: z.string().optional().openapi({
      description: 'WRITE_NOT_REPLICATED: the op whose outcome is unknown (read it, or retry)',
    }),
    op: opReceipt.optional().openapi({
      description: 'A failed condition answered after prefer: wait: the failed op',
    }),
  })
  .openapi('Problem', {
    description:
      'RFC 9457 problem details. Each response lists the codes (and so the status) it can carry.',
  });

export const health = z
  .object({
    status: z.enum(['ok', 'ready', 'not ready']),
    checks: z
      .object({
        queueRedis: z.enum(['up', 'down']),
        dataRedis: z.enum(['up', 'down']),
        lifecycle: z.enum(['running', 'stopping']),
      })
      .optional(),
  })
  .openapi('Health', {
    example: {
      status: 'ready',
      checks: { queueRedis: 'up', dataRedis: 'up', lifecycle: 'running' },
    },
  });

/** A dead-lettered op, named and formatted as receipts are (GET /v1/ops/{id}); no value. */
export const deadLetter = z
  .object({
    id: z.string().openapi({ description: 'The dead op' }),
    key: z.string(),
    type: z.enum(OP_TYPES).nullable().openapi({ description: 'Null for a malformed job' }),
    version: z.number().int().nullable(),
    attempts: z.number().int(),
    acceptedAt: z.string().nullable().openapi({ description: 'ISO 8601' }),
    failedAt: z.string().openapi({ description: 'ISO 8601' }),
    error: opError,
  })
  .openapi('DeadLetter', { example: ex.deadLetter });

/** The write a dead letter holds, as a replay would send it again. */
export const deadLetterOp = z
  .object({
    id: z.string(),
    key: z.string(),
    type: z.enum(OP_TYPES),
    version: z.number().int().nullable(),
    value: jsonValue.optional().openapi({ description: 'A put or create: the value' }),
    ttlSeconds: z.number().int().optional(),
    condition: conditionSchema.optional().openapi({
      description: 'The write condition: absent (if-none-match: *), exists (if-match: *), version',
    }),
    acceptedAt: z.string().nullable().openapi({ description: 'ISO 8601' }),
  })
  .openapi('DeadLetterOp');

export const deadLetterWithOp = deadLetter
  .extend({
    op: deadLetterOp.nullable().openapi({ description: 'Null when the job was malformed' }),
  })
  .openapi('DeadLetterWithOp', { example: ex.deadLetterWithOp });

export const deadLetterPage = z
  .object({ items: z.array(deadLetter), nextCursor: z.string().nullable() })
  .openapi('DeadLetterPage', { example: { items: [ex.deadLetter], nextCursor: null } });
