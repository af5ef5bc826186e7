import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import type { Context } from 'hono';

import { AppError, OP_TYPES } from '../../core/index.ts';
import { type DeadLetter, type DeadLetterSummary } from '../../store/index.ts';
import type { ApiDeps } from '../deps.ts';
import { requestIdOf } from '../problem.ts';
import { type ResponseParts, sendParts, untyped } from '../render.ts';
import { opEnvelope, opError, problemResponses as problems } from '../schemas.ts';
import { submitWrite } from '../write-flow.ts';

/** Named and formatted as in receipts (GET /v1/ops/{id}); never holds the value. */
const entry = z
  .object({
    id: z.string(),
    key: z.string(),
    type: z.enum(OP_TYPES).nullable().openapi({ description: 'Null for a malformed job' }),
    version: z.number().int().nullable(),
    attempts: z.number().int(),
    acceptedAt: z.string().nullable().openapi({ description: 'ISO 8601' }),
    failedAt: z.string().openapi({ description: 'ISO 8601' }),
    error: opError,
  })
  .openapi('DeadLetter');

const entryWithOp = entry
  .extend({ op: z.record(z.string(), z.unknown()).nullable() })
  .openapi('DeadLetterWithOp');

const idParam = z.object({
  opId: z
    .string()
    .min(1)
    .openapi({ param: { name: 'opId', in: 'path' } }),
});

const listRoute = createRoute({
  method: 'get',
  path: '/v1/dlq',
  summary: 'Dead-lettered ops, newest first (summaries, without values)',
  request: {
    query: z.object({
      limit: z.coerce.number().int().min(1).max(1000).default(100),
      cursor: z.string().max(300).optional(),
    }),
  },
  responses: {
    200: {
      description: 'A page of entries',
      content: {
        'application/json': {
          schema: z.object({ items: z.array(entry), nextCursor: z.string().nullable() }),
        },
      },
    },
    ...problems(400, 503),
  },
});

/** How long one replay holds its entry (longer than any replay's own wait). */
const REPLAY_CLAIM_MS = 60_000;

/** How many entries retry-all reads at a time. */
const RETRY_PAGE = 100;

const getRoute = createRoute({
  method: 'get',
  path: '/v1/dlq/{opId}',
  summary: 'One dead-lettered op, with the original op (value included)',
  request: { params: idParam },
  responses: {
    200: { description: 'The entry', content: { 'application/json': { schema: entryWithOp } } },
    ...problems(404, 503),
  },
});

const forceQuery = z.object({
  force: z.enum(['true', 'false']).optional().openapi({
    description:
      'Replay even if the key accepted a write after the dead op (the old value then overwrites newer data)',
  }),
});

const retryOneRoute = createRoute({
  method: 'post',
  path: '/v1/dlq/{opId}/retry',
  summary:
    'Replay one dead-lettered op as a new op (new id and version, replayOf = the dead one); 409 if the key accepted a later write, unless force=true',
  request: { params: idParam, query: forceQuery },
  responses: {
    202: {
      description: 'Accepted as a new op',
      content: { 'application/json': { schema: opEnvelope } },
    },
    ...problems(404, 409, 412, 503),
  },
});

const retryAllRoute = createRoute({
  method: 'post',
  path: '/v1/dlq/retry',
  summary: 'Replay every dead-lettered op (optionally only keys under a prefix)',
  request: { query: forceQuery.extend({ prefix: z.string().optional() }) },
  responses: {
    200: {
      description:
        'How many were accepted as new ops, and how many were skipped (the key accepted a later write, or the write would fail now)',
      content: {
        'application/json': {
          schema: z.object({ retried: z.number().int(), skipped: z.number().int() }),
        },
      },
    },
    ...problems(503),
  },
});

const deleteRoute = createRoute({
  method: 'delete',
  path: '/v1/dlq/{opId}',
  summary: 'Discard a dead-lettered op (its receipt stays dead)',
  request: { params: idParam },
  responses: { 204: { description: 'Discarded' }, ...problems(404, 503) },
});

const iso = (ms: number) => new Date(ms).toISOString();

function summary(d: DeadLetterSummary) {
  return {
    id: d.id,
    key: d.key,
    type: d.type,
    version: d.version,
    attempts: d.attempts,
    acceptedAt: d.acceptedAt === null ? null : iso(d.acceptedAt),
    failedAt: iso(d.failedAt),
    error: d.error,
  };
}

function withOp(d: DeadLetter) {
  let op: Record<string, unknown> | null = null;
  if (d.op) {
    const { value, ...rest } = d.op;
    op = { ...rest, ...(value === undefined ? {} : { value: JSON.parse(value) as unknown }) };
  }
  return { ...summary(d), op };
}

export function registerDeadLetterRoutes(app: OpenAPIHono, deps: ApiDeps): void {
  const { deadLetters } = deps;

  /**
   * Replays a dead op as a new write through the one write path (submitWrite): a new op id and
   * version, `replayOf` pointing at the dead op, the same write (value, TTL, condition). Unless
   * forced, acceptance refuses it when the key accepted a write after the dead op, so an old value
   * never silently overwrites newer data. The entry leaves the queue once the replay is accepted;
   * the dead op's receipt stays dead (it had no effect).
   */
  async function replay(c: Context, opId: string, force: boolean): Promise<ResponseParts | null> {
    const d = await deadLetters.get(opId);
    if (!d) return null;
    const op = d.op;
    if (!op || d.version === null) {
      throw new AppError('NOT_REPLAYABLE', 'the job was malformed; inspect and delete it instead');
    }
    // One replay of an entry at a time, so that even forced replays cannot write it twice.
    if (!(await deadLetters.claim(opId, REPLAY_CLAIM_MS))) {
      throw new AppError('NOT_REPLAYABLE', `dead letter ${opId} is being replayed`);
    }
    let parts: ResponseParts;
    try {
      parts = await submitWrite(
        deps,
        {
          idempotencyKey: undefined,
          prefer: c.req.header('Prefer'),
          requestId: requestIdOf(c),
        },
        {
          key: op.key,
          type: op.type,
          valueJson: op.value,
          ttlMs: op.ttlMs,
          condition: op.condition,
          conditionCode: op.type === 'create' ? 'KEY_EXISTS' : op.conditionCode,
          replay: { of: opId, maxVersion: force ? undefined : d.version },
        },
      );
    } catch (err) {
      await deadLetters.release(opId).catch(() => undefined);
      throw err;
    }
    // The replay is accepted: the entry leaves (with its claim).
    await deadLetters.remove(opId);
    return parts;
  }

  app.openapi(listRoute, async (c) => {
    const q = c.req.valid('query');
    const page = await deadLetters.list({ limit: q.limit, cursor: q.cursor });
    return c.json({ items: page.items.map(summary), nextCursor: page.nextCursor }, 200);
  });

  app.openapi(retryAllRoute, async (c) => {
    const { prefix, force } = c.req.valid('query');
    let retried = 0;
    let skipped = 0;
    // Page by page, newest first: entries replayed meanwhile leave the pages behind the cursor,
    // and those dead again land ahead of it, so the walk ends.
    let cursor: string | undefined;
    do {
      const page = await deadLetters.list({ limit: RETRY_PAGE, cursor });
      for (const d of page.items) {
        if (prefix && !d.key.startsWith(prefix)) continue;
        try {
          if (await replay(c, d.id, force === 'true')) retried++;
        } catch (err) {
          // A write that would not be accepted now stays dead-lettered; anything else stops.
          if (!(err instanceof AppError) || err.status >= 500) throw err;
          skipped++;
        }
      }
      cursor = page.nextCursor ?? undefined;
    } while (cursor !== undefined);
    return c.json({ retried, skipped }, 200);
  });

  app.openapi(getRoute, async (c) => {
    const { opId } = c.req.valid('param');
    const d = await deadLetters.get(opId);
    if (!d) throw new AppError('DEAD_LETTER_NOT_FOUND', `no dead letter for op ${opId}`);
    return c.json(withOp(d), 200);
  });

  app.openapi(retryOneRoute, async (c) => {
    const { opId } = c.req.valid('param');
    const { force } = c.req.valid('query');
    const parts = await replay(c, opId, force === 'true');
    if (!parts) throw new AppError('DEAD_LETTER_NOT_FOUND', `no dead letter for op ${opId}`);
    return untyped(sendParts(c, parts));
  });

  app.openapi(deleteRoute, async (c) => {
    const { opId } = c.req.valid('param');
    if (!(await deadLetters.remove(opId))) {
      throw new AppError('DEAD_LETTER_NOT_FOUND', `no dead letter for op ${opId}`);
    }
    return c.body(null, 204);
  });
}
