import { createRoute, z } from '@hono/zod-openapi';

import { AUDIT_ACTIONS, AUDIT_OUTCOMES } from '../../store/index.ts';
import { responseHeaders } from './headers.ts';
import { problemResponses } from './problems.ts';

/** The documented admin routes (served by routes/admin.ts). */

const EXAMPLE_ENTRY = {
  id: '1764800000000-0',
  time: '2025-12-03T22:13:20.000Z',
  actor: 'token-3f1a9c0d52e4',
  action: 'dead_letter.replay',
  target: '4-5b1985c3-73ca-4f0f-af84-6e662f661dc6',
  outcome: 'ok',
  requestId: 'checkout-7f3a91',
};

export const auditEntry = z
  .object({
    id: z.string().openapi({ description: 'The entry id; also the paging cursor' }),
    time: z.string().openapi({ description: 'ISO 8601' }),
    actor: z.string().openapi({
      description: 'The key id of the principal, or "anonymous" when authentication is off',
    }),
    action: z.string().openapi({ description: `One of: ${AUDIT_ACTIONS.join(', ')}` }),
    target: z.string().openapi({
      description: 'What the action was about: an op id, a key id, or a prefix ("*" = all)',
    }),
    outcome: z.string().openapi({
      description: `One of: ${AUDIT_OUTCOMES.join(', ')} (refused: a 4xx answer; failed: the server could not)`,
    }),
    code: z.string().optional().openapi({ description: 'The error code of a refusal or failure' }),
    detail: z.string().optional().openapi({ description: 'e.g. the counts of a replay-all' }),
    requestId: z.string(),
    traceId: z.string().optional().openapi({ description: 'With tracing on' }),
  })
  .openapi('AuditEntry', { example: EXAMPLE_ENTRY });

export const auditPage = z
  .object({ items: z.array(auditEntry), nextCursor: z.string().nullable() })
  .openapi('AuditPage', { example: { items: [EXAMPLE_ENTRY], nextCursor: null } });

export const auditRoute = createRoute({
  tags: ['admin'],
  security: [{ bearerAuth: [] }],
  method: 'get',
  path: '/v1/admin/audit',
  operationId: 'listAuditEntries',
  summary: 'The audit log of admin actions, newest first (admin scope)',
  description:
    'Dead-letter replays and discards and API key changes, each with who, what, which target, ' +
    'how it ended and the request id. The log keeps about AUDIT_LOG_MAX_ENTRIES of the newest.',
  request: {
    query: z.object({
      limit: z.coerce.number().int().min(1).max(1000).default(100),
      cursor: z.string().max(64).optional().openapi({ description: 'nextCursor of the last page' }),
    }),
  },
  responses: {
    200: {
      description: 'A page of entries',
      headers: responseHeaders(),
      content: { 'application/json': { schema: auditPage } },
    },
    ...problemResponses(
      ['VALIDATION_FAILED', 'INVALID_CURSOR', 'INSUFFICIENT_SCOPE', 'DATA_UNAVAILABLE'],
      { v1: true },
    ),
  },
});
