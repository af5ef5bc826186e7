import { createServer } from 'node:http';

/**
 * /healthz (alive) and /readyz for roles without the HTTP API (worker, autoscaler), so that their
 * Deployments get the same probes as the API.
 */
export async function startHealthServer(opts: {
  host: string;
  port: number;
  ready: () => boolean;
}): Promise<{ port: number; close: () => Promise<void> }> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    const ok = path === '/healthz' || (path === '/readyz' && opts.ready());
    const known = path === '/healthz' || path === '/readyz';
    res.writeHead(known ? (ok ? 200 : 503) : 404, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ status: known ? (ok ? 'ok' : 'not ready') : 'not found' }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      resolve();
    });
  });
  const a = server.address();
  return {
    port: typeof a === 'object' && a ? a.port : opts.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
        server.closeIdleConnections();
      }),
  };
}
