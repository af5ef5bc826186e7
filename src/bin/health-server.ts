import { createServer, type ServerResponse } from 'node:http';

import { ERRORS, listen, type Listening } from '../core/index.ts';

/** A backlog read slower than this answers 503: KEDA polls again, a stalled Redis holds nothing. */
const BACKLOG_TIMEOUT_MS = 3000;

/**
 * /healthz (alive) and /readyz for roles without the HTTP API (worker, autoscaler), so that their
 * Deployments get the same probes as the API. With `backlog`, also `GET /backlog` →
 * `{"backlog": N}` (the unfinished accepted ops over all partitions), which KEDA's metrics-api
 * scaler reads; a failed or slow read answers 503 problem+json, never 500.
 */
export async function startHealthServer(opts: {
  host: string;
  port: number;
  ready: () => boolean;
  backlog?: () => Promise<number>;
}): Promise<Listening> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (path === '/backlog' && opts.backlog) {
      void serveBacklog(res, opts.backlog);
      return;
    }
    const ok = path === '/healthz' || (path === '/readyz' && opts.ready());
    const known = path === '/healthz' || path === '/readyz';
    res.writeHead(known ? (ok ? 200 : 503) : 404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ status: known ? (ok ? 'ok' : 'not ready') : 'not found' }));
  });
  return listen(server, opts.port, opts.host);
}

async function serveBacklog(res: ServerResponse, read: () => Promise<number>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const backlog = await Promise.race([
      read(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          reject(new Error(`no answer within ${String(BACKLOG_TIMEOUT_MS)} ms`));
        }, BACKLOG_TIMEOUT_MS);
      }),
    ]);
    if (!Number.isFinite(backlog) || backlog < 0) throw new Error(`not a backlog: ${backlog}`);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ backlog }));
  } catch (err) {
    const { status, title } = ERRORS.QUEUE_UNAVAILABLE;
    res.writeHead(status, { 'content-type': 'application/problem+json', 'retry-after': '1' });
    res.end(
      JSON.stringify({
        type: 'https://kvq.dev/problems/queue-unavailable',
        title,
        status,
        detail: `the backlog could not be read: ${(err as Error).message}`,
        code: 'QUEUE_UNAVAILABLE',
      }),
    );
  } finally {
    clearTimeout(timer);
  }
}
