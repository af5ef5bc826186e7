import type { OpenAPIHono, z } from '@hono/zod-openapi';
import type { Context } from 'hono';

import { AppError } from '../../core/index.ts';
import { type DeadLetter, type DeadLetterSummary } from '../../store/index.ts';
import { type Auditor, outcomeOf } from '../audit.ts';
import type { ApiDeps } from '../deps.ts';
import {
  deleteRoute,
  getRoute,
  listRoute,
  retryAllRoute,
  retryOneRoute,
} from '../openapi/dead-letter-routes.ts';
import { requestIdOf } from '../problem.ts';
import { type ResponseParts, sendParts, untyped } from '../render.ts';
import type { deadLetterOp } from '../schemas.ts';
import { submitWrite } from '../write-flow.ts';

/** How long one replay holds its entry (longer than any replay's own wait). */
const REPLAY_CLAIM_MS = 60_000;

/** How many entries retry-all reads at a time. */
const RETRY_PAGE = 100;

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

/** The held write, named and formatted as receipts and requests are (id, ISO times, seconds). */
function withOp(d: DeadLetter) {
  const o = d.op;
  if (!o) return { ...summary(d), op: null };
  const acceptedAt = o.acceptedAt ?? d.acceptedAt;
  const op: z.infer<typeof deadLetterOp> = {
    id: o.opId,
    key: o.key,
    type: o.type,
    version: o.version ?? d.version,
    acceptedAt: acceptedAt === null ? null : iso(acceptedAt),
  };
  if (o.value !== undefined) op.value = JSON.parse(o.value) as unknown;
  if (o.ttlMs !== undefined) op.ttlSeconds = Math.ceil(o.ttlMs / 1000);
  if (o.condition) op.condition = o.condition;
  return { ...summary(d), op };
}

/**
 * The dead-letter routes. Replays and discards are admin actions: each is recorded in the audit
 * log (`auditor`) with its outcome; a replay-all is one entry with its counts.
 */
export function registerDeadLetterRoutes(app: OpenAPIHono, deps: ApiDeps, auditor: Auditor): void {
  const { deadLetters } = deps;

  /**
   * Replays a dead op as a new write through the one write path (submitWrite): a new op id and
   * version, `replayOf` pointing at the dead op, the same write (value, TTL, condition). Unless
   * forced, acceptance refuses it when the key accepted a write after the dead op, so an old value
   * never silently overwrites newer data. The entry leaves the queue once the replay is accepted;
   * the dead op's receipt stays dead (it had no effect).
   */
  async function replay(
    c: Context,
    opId: string,
    force: boolean,
    prefer: string | undefined,
  ): Promise<ResponseParts | null> {
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
          prefer,
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
    const entry = () => ({
      action: 'dead_letter.replay_all' as const,
      target: prefix ?? '*',
      detail: `retried ${String(retried)}, skipped ${String(skipped)}${force === 'true' ? ', forced' : ''}`,
    });
    try {
      // Page by page, newest first: entries replayed meanwhile leave the pages behind the cursor,
      // and those dead again land ahead of it, so the walk ends.
      let cursor: string | undefined;
      do {
        const page = await deadLetters.list({ limit: RETRY_PAGE, cursor });
        for (const d of page.items) {
          if (prefix && !d.key.startsWith(prefix)) continue;
          try {
            // No prefer: wait here: the answer is counts, not outcomes.
            if (await replay(c, d.id, force === 'true', undefined)) retried++;
          } catch (err) {
            // A write that would not be accepted now stays dead-lettered; anything else stops.
            if (!(err instanceof AppError) || err.status >= 500) throw err;
            skipped++;
          }
        }
        cursor = page.nextCursor ?? undefined;
      } while (cursor !== undefined);
    } catch (err) {
      await auditor.record(c, entry(), outcomeOf(err));
      throw err;
    }
    await auditor.record(c, entry(), { outcome: 'ok' });
    return c.json({ retried, skipped }, 200);
  });

  app.openapi(getRoute, async (c) => {
    const { id } = c.req.valid('param');
    const d = await deadLetters.get(id);
    if (!d) throw new AppError('DEAD_LETTER_NOT_FOUND', `no dead letter for op ${id}`);
    return c.json(withOp(d), 200);
  });

  app.openapi(retryOneRoute, async (c) => {
    const { id } = c.req.valid('param');
    const { force } = c.req.valid('query');
    const parts = await auditor.audited(
      c,
      { action: 'dead_letter.replay', target: id },
      async () => {
        const p = await replay(c, id, force === 'true', c.req.header('prefer'));
        if (!p) throw new AppError('DEAD_LETTER_NOT_FOUND', `no dead letter for op ${id}`);
        return p;
      },
    );
    return untyped(sendParts(c, parts));
  });

  app.openapi(deleteRoute, async (c) => {
    const { id } = c.req.valid('param');
    await auditor.audited(c, { action: 'dead_letter.discard', target: id }, async () => {
      if (!(await deadLetters.remove(id))) {
        throw new AppError('DEAD_LETTER_NOT_FOUND', `no dead letter for op ${id}`);
      }
    });
    return c.body(null, 204);
  });
}
