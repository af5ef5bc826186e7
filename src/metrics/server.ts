import { createServer } from 'node:http';

import type { Registry } from 'prom-client';

import { listen, type Listening } from '../core/index.ts';

/**
 * The metrics listener: `GET /metrics` in the Prometheus text format, on its own port so that
 * scraping never shares the API's port, auth or limits. Anything else is 404.
 */
export async function startMetricsServer(opts: {
  host: string;
  port: number;
  registry: Registry;
}): Promise<Listening> {
  const { registry } = opts;
  const server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('not found: metrics are at GET /metrics\n');
      return;
    }
    registry.metrics().then(
      (text) => {
        res.writeHead(200, { 'content-type': registry.contentType });
        res.end(req.method === 'HEAD' ? undefined : text);
      },
      (err: unknown) => {
        res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
        res.end(`metrics could not be collected: ${String(err)}\n`);
      },
    );
  });
  return listen(server, opts.port, opts.host);
}
