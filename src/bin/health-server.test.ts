import { afterEach, describe, expect, it } from 'vitest';

import { startHealthServer } from './health-server.ts';

let close: (() => Promise<void>) | undefined;
afterEach(async () => {
  await close?.();
  close = undefined;
});

async function serve(opts: { ready?: boolean; backlog?: () => Promise<number> }) {
  const h = await startHealthServer({
    host: '127.0.0.1',
    port: 0,
    ready: () => opts.ready ?? true,
    ...(opts.backlog ? { backlog: opts.backlog } : {}),
  });
  close = h.close;
  return (path: string) => fetch(`http://127.0.0.1:${String(h.port)}${path}`);
}

describe('the health server', () => {
  it('answers /healthz, /readyz by readiness, 404 elsewhere', async () => {
    const get = await serve({ ready: false });
    expect((await get('/healthz')).status).toBe(200);
    expect((await get('/readyz')).status).toBe(503);
    expect((await get('/nope')).status).toBe(404);
  });

  it('has no /backlog unless given a backlog reader', async () => {
    const get = await serve({});
    expect((await get('/backlog')).status).toBe(404);
  });

  it('serves the backlog as {"backlog": N} for KEDA', async () => {
    const get = await serve({ backlog: () => Promise.resolve(4321) });
    const res = await get('/backlog?x=1');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(await res.json()).toEqual({ backlog: 4321 });
  });

  it('answers 503 problem+json, not 500, when the backlog cannot be read', async () => {
    const get = await serve({ backlog: () => Promise.reject(new Error('Connection is closed.')) });
    const res = await get('/backlog');
    expect(res.status).toBe(503);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    expect(res.headers.get('retry-after')).toBe('1');
    expect(await res.json()).toMatchObject({
      status: 503,
      code: 'QUEUE_UNAVAILABLE',
      detail: expect.stringContaining('Connection is closed.') as unknown,
    });
  });

  it('answers 503 when the reader returns something that is not a count', async () => {
    const get = await serve({ backlog: () => Promise.resolve(Number.NaN) });
    expect((await get('/backlog')).status).toBe(503);
  });
});
