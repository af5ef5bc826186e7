import { createRoute, z } from '@hono/zod-openapi';

import { deadLetterPage, deadLetterWithOp, opEnvelope, record } from '../schemas.ts';
import * as ex from './examples.ts';
import { headerParams, responseHeaders } from './headers.ts';
import { problemResponses, WRITE_UNAVAILABLE } from './problems.ts';

/** The documented dead-letter routes (served by routes/dead-letters.ts). */

const idParam = z.object({
  id: z
    .string()
    .min(1)
    .openapi({
      param: { name: 'id', in: 'path' },
      description: 'The dead op id',
      example: ex.OP_ID,
    }),
});

const dlq = { tags: ['dead letters'], security: [{ bearerAuth: [] }] };

export const listRoute = createRoute({
  ...dlq,
  method: 'get',
  path: '/v1/dlq',
  operationId: 'listDeadLetters',
  summary: 'Dead-lettered ops, newest first (summaries, without values)',
  request: {
    query: z.object({
      limit: z.coerce.number().int().min(1).max(1000).default(100),
      cursor: z
        .string()
        .max(300)
        .optional()
        .openapi({ description: 'nextCursor of the last page' }),
    }),
  },
  responses: {
    200: {
      description: 'A page of entries',
      headers: responseHeaders(),
      content: { 'application/json': { schema: deadLetterPage } },
    },
    ...problemResponses(['VALIDATION_FAILED', 'QUEUE_UNAVAILABLE'], { v1: true }),
  },
});

export const getRoute = createRoute({
  ...dlq,
  method: 'get',
  path: '/v1/dlq/{id}',
  operationId: 'getDeadLetter',
  summary: 'One dead-lettered op, with the original op (value included)',
  request: { params: idParam },
  responses: {
    200: {
      description: 'The entry',
      headers: responseHeaders(),
      content: { 'application/json': { schema: deadLetterWithOp } },
    },
    ...problemResponses(['DEAD_LETTER_NOT_FOUND', 'QUEUE_UNAVAILABLE'], { v1: true }),
  },
});

const forceQuery = z.object({
  force: z.enum(['true', 'false']).optional().openapi({
    description:
      'Replay even if the key accepted a write after the dead op (the old value then overwrites newer data)',
  }),
});

export const retryOneRoute = createRoute({
  ...dlq,
  method: 'post',
  path: '/v1/dlq/{id}/retry',
  operationId: 'retryDeadLetter',
  summary: 'Replay one dead-lettered op as a new op',
  description:
    'A new op (new id and version, replayOf = the dead one) with the same write; 409 ' +
    'NOT_REPLAYABLE if the key accepted a later write, unless force=true. With prefer: wait=N ' +
    'the answer is the outcome, as for the write itself.',
  parameters: headerParams('PreferWait'),
  request: { params: idParam, query: forceQuery },
  responses: {
    202: {
      description: 'Accepted as a new op (or still running after prefer: wait)',
      headers: responseHeaders({ location: true, 'preference-applied': false }),
      content: { 'application/json': { schema: opEnvelope } },
    },
    200: {
      description:
        'prefer: wait — applied (a put: the record with its op) or ended without effect (the receipt)',
      headers: responseHeaders({ 'preference-applied': true, etag: false }),
      content: {
        'application/json': {
          schema: {
            anyOf: [
              { $ref: '#/components/schemas/Record' },
              { $ref: '#/components/schemas/OpEnvelope' },
            ],
          },
        },
      },
    },
    201: {
      description: 'prefer: wait — applied and the key was created: the record with its op',
      headers: responseHeaders({ 'preference-applied': true, etag: true, location: true }),
      content: { 'application/json': { schema: record } },
    },
    204: {
      description: 'prefer: wait — a replayed delete applied',
      headers: responseHeaders({ 'preference-applied': true }),
    },
    ...problemResponses(
      [
        'VALIDATION_FAILED',
        'DEAD_LETTER_NOT_FOUND',
        'KEY_NOT_FOUND',
        'OP_NOT_FOUND',
        'NOT_REPLAYABLE',
        'KEY_EXISTS',
        'PRECONDITION_FAILED',
        ...WRITE_UNAVAILABLE,
      ],
      { v1: true, waits: true },
    ),
  },
});

export const retryAllRoute = createRoute({
  ...dlq,
  method: 'post',
  path: '/v1/dlq/retry',
  operationId: 'retryAllDeadLetters',
  summary: 'Replay every dead-lettered op (optionally only keys under a prefix)',
  request: { query: forceQuery.extend({ prefix: z.string().optional() }) },
  responses: {
    200: {
      description:
        'How many were accepted as new ops, and how many were skipped (the key accepted a later write, or the write would fail now)',
      content: {
        'application/json': {
          schema: z
            .object({ retried: z.number().int(), skipped: z.number().int() })
            .openapi('ReplayCounts', { example: { retried: 3, skipped: 1 } }),
        },
      },
      headers: responseHeaders(),
    },
    ...problemResponses(['VALIDATION_FAILED', ...WRITE_UNAVAILABLE], { v1: true }),
  },
});

export const deleteRoute = createRoute({
  ...dlq,
  method: 'delete',
  path: '/v1/dlq/{id}',
  operationId: 'deleteDeadLetter',
  summary: 'Discard a dead-lettered op (its receipt stays dead)',
  request: { params: idParam },
  responses: {
    204: { description: 'Discarded', headers: responseHeaders() },
    ...problemResponses(['DEAD_LETTER_NOT_FOUND', 'QUEUE_UNAVAILABLE'], { v1: true }),
  },
});
