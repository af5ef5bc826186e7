import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { HonoAdapter } from '@bull-board/hono';
import { serveStatic } from '@hono/node-server/serve-static';
import type { OpenAPIHono } from '@hono/zod-openapi';
import type { Queue } from 'bullmq';
import type { MiddlewareHandler } from 'hono';

import { AppError } from '../../core/index.ts';
import { unavailable } from '../../store/index.ts';
import type { DenialReason } from '../auth/authenticator.ts';
import { type Authenticate, requireScope, resolvePrincipal } from '../middleware/admin-auth.ts';

/**
 * The queue dashboard: Bull Board at /admin/queues over every partition's BullMQ queue, for admin
 * principals only (Basic or Bearer), read-only. Removing, retrying, promoting or adding a job
 * behind kvq's back would leave its receipt and the key's pending count wrong for good, so every
 * method but GET and HEAD is refused before the board sees the request, and each queue is also
 * registered in the board's own read-only mode (its UI then offers no such action). The UI's
 * scripts and styles come from the pinned @bull-board/ui package; the page names no other origin,
 * and its Content-Security-Policy allows none.
 */

export const BOARD_PATH = '/admin/queues';

export interface QueueBoardDeps {
  /**
   * Every partition's BullMQ queue, in partition order. Throws while the queue Redis is not
   * ready; may answer new Queue objects after a reconnect.
   */
  queues(): readonly Queue[];
}

const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  // The page's loading placeholder and the UI's components set inline styles.
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'self'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** A stylesheet or script the page would load from another origin (the UI names a font CDN). */
const EXTERNAL_LINK = /<link\b[^>]*\bhref="(?:https?:)?\/\/[^"]*"[^>]*>\s*/gi;

export function registerQueueBoard(
  app: OpenAPIHono,
  deps: {
    board: QueueBoardDeps;
    authenticate: Authenticate | undefined;
    onDenied?: ((reason: DenialReason) => void) | undefined;
  },
): void {
  const adapter = new HonoAdapter(serveStatic).setBasePath(BOARD_PATH);
  const board = createBullBoard({
    queues: [],
    serverAdapter: adapter,
    options: { uiConfig: { boardTitle: 'kvq queues' } },
  });

  // The board holds Queue objects; the queue handles make new ones after a failed start, so the
  // board is given the current ones before each request that reads queues.
  let shown: readonly Queue[] = [];
  const syncQueues = () => {
    let current: readonly Queue[];
    try {
      current = deps.board.queues();
    } catch (err) {
      throw unavailable(err, 'QUEUE_UNAVAILABLE');
    }
    if (current.length === shown.length && current.every((q, i) => q === shown[i])) return;
    board.replaceQueues(
      current.map(
        (q, i) =>
          new BullMQAdapter(q, {
            readOnlyMode: true,
            allowRetries: false,
            description: `partition ${String(i)}`,
          }),
      ),
    );
    shown = current;
  };

  const readOnly: MiddlewareHandler = async (c, next) => {
    if (c.req.method !== 'GET' && c.req.method !== 'HEAD') {
      throw new AppError(
        'METHOD_NOT_ALLOWED',
        'the queue dashboard is read-only; replay or discard dead letters through /v1/dlq',
        { headers: { allow: 'GET, HEAD' } },
      );
    }
    if (c.req.path.startsWith(`${BOARD_PATH}/api/`)) syncQueues();
    await next();
    const type = c.res.headers.get('content-type') ?? '';
    if (type.startsWith('text/html')) {
      const html = (await c.res.text()).replace(EXTERNAL_LINK, '');
      const headers = new Headers(c.res.headers);
      headers.delete('content-length');
      c.res = new Response(html, { status: c.res.status, headers });
    }
    c.header('content-security-policy', CSP);
    c.header('x-content-type-options', 'nosniff');
    c.header('referrer-policy', 'no-referrer');
    if (!c.req.path.startsWith(`${BOARD_PATH}/static/`)) c.header('cache-control', 'no-store');
  };

  // `/admin/queues/*` covers `/admin/queues` itself too.
  app.use(
    `${BOARD_PATH}/*`,
    resolvePrincipal(deps.authenticate, deps.onDenied),
    requireScope('admin', deps.onDenied),
    readOnly,
  );
  app.route(BOARD_PATH, adapter.registerPlugin());
  // The page's base is `/admin/queues/`: a reload there lands on the board too.
  app.get(`${BOARD_PATH}/`, (c) => c.redirect(BOARD_PATH, 302));
}
