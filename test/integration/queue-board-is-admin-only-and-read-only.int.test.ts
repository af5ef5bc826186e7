import { appRoutes } from '@bull-board/api/dist/routes.js';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { apiKeyKeys } from '../../src/core/index.ts';
import { createApiKeyStore, newApiKey } from '../../src/store/index.ts';
import { call, partitionQueues, type Stack, startStack } from '../helpers/stack.ts';

/**
 * Bull Board at /admin/queues: admin credentials only (HTTP Basic for browsers, Bearer too),
 * every partition's queue listed, and nothing it could change reachable.
 */

const TOKEN = 'board-admin-token';
const basic = (user: string, secret: string) =>
  `Basic ${Buffer.from(`${user}:${secret}`).toString('base64')}`;

let s: Stack;
let queues: ReturnType<typeof partitionQueues>;
let byPartition: Queue[];
beforeAll(async () => {
  // No worker: a write stays waiting in its queue, so a mutation that got through would show.
  s = await startStack({ worker: false, env: { API_TOKENS: TOKEN } });
  queues = partitionQueues(s.layout, s.queueUrl);
  byPartition = Array.from(
    { length: s.layout.count },
    (_, i) => new Queue(s.layout.queueName(i), { connection: { url: s.queueUrl } }),
  );
});
afterAll(async () => {
  await queues.close();
  await Promise.all(byPartition.map((q) => q.close()));
  await s.stop();
});

describe('with API_TOKENS set (ADMIN_UI=auto)', () => {
  it('401 with a Basic challenge without credentials or with a wrong secret', async () => {
    const tries: Record<string, string>[] = [
      {},
      { authorization: basic('ops', 'wrong') },
      { authorization: 'Bearer wrong' },
      { authorization: 'Basic !!!' },
      { authorization: basic('no-colon-here', '').replace(/=*$/, '') },
    ];
    for (const headers of tries) {
      for (const path of ['/admin/queues', '/admin/queues/api/queues', '/admin/queues/static/x']) {
        const r = await call(s.url, 'GET', path, { headers });
        expect([path, headers, r.status]).toEqual([path, headers, 401]);
        expect(r.headers.get('content-type')).toBe('application/problem+json');
        expect(r.body.code).toBe('UNAUTHORIZED');
        expect(r.headers.get('www-authenticate')).toBe('Basic realm="kvq admin", charset="UTF-8"');
      }
    }
  });

  it('200 for the admin token as a Basic password (any user name) or as a Bearer token', async () => {
    for (const authorization of [basic('ops', TOKEN), basic('', TOKEN), `Bearer ${TOKEN}`]) {
      const r = await call(s.url, 'GET', '/admin/queues', { headers: { authorization } });
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toMatch(/^text\/html/);
      expect(r.text).toContain('<title>kvq queues</title>');
      expect(r.text).toContain('<base href="/admin/queues/"');
      // Nothing from another origin: the UI's font CDN link is gone, and the CSP allows none.
      expect(r.text).not.toMatch(/(?:href|src)="(?:https?:)?\/\//);
      expect(r.headers.get('content-security-policy')).toMatch(/default-src 'self'/);
      expect(r.headers.get('cache-control')).toBe('no-store');
    }
    const slash = await fetch(`${s.url}/admin/queues/`, {
      headers: { authorization: basic('ops', TOKEN) },
      redirect: 'manual',
    });
    expect([slash.status, slash.headers.get('location')]).toEqual([302, '/admin/queues']);
  });

  it("serves the UI's assets from the pinned package", async () => {
    const auth = { authorization: basic('ops', TOKEN) };
    const page = await call(s.url, 'GET', '/admin/queues', { headers: auth });
    const assets = [...page.text.matchAll(/(?:href|src)="(static\/[^"]+)"/g)].map((m) => m[1]);
    expect(assets.some((a) => a?.endsWith('.js'))).toBe(true);
    expect(assets.some((a) => a?.endsWith('.css'))).toBe(true);
    for (const asset of assets) {
      const r = await call(s.url, 'GET', `/admin/queues/${asset ?? ''}`, { headers: auth });
      expect([asset, r.status]).toEqual([asset, 200]);
      expect(r.text.length).toBeGreaterThan(0);
    }
  });

  it("lists every partition's queue, each in read-only mode", async () => {
    await call(s.url, 'PUT', '/v1/keys/board/a', {
      body: { value: 1 },
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    const r = await call(s.url, 'GET', '/admin/queues/api/queues', {
      headers: { authorization: basic('ops', TOKEN) },
    });
    expect(r.status).toBe(200);
    const listed = r.body.queues as { name: string; readOnlyMode: boolean; counts: object }[];
    const names = Array.from({ length: s.layout.count }, (_, i) => s.layout.queueName(i));
    expect(listed.map((q) => q.name).sort()).toEqual([...names].sort());
    expect(listed.every((q) => q.readOnlyMode)).toBe(true);
    const mine = listed.find((q) => q.name === s.queueNameOf('board/a'));
    expect(mine?.counts).toMatchObject({ waiting: 1 });
  });

  it("refuses every mutating route of the board's API (405), and nothing changes", async () => {
    const queue = s.queueNameOf('board/a');
    const [job] = await queues.of('board/a').getJobs(['waiting']);
    expect(job?.id).toBeTypeOf('string');
    const params: Record<string, string> = {
      queueName: queue,
      jobId: job?.id ?? '',
      queueStatus: 'waiting',
      schedulerId: 'x',
    };
    const mutating = appRoutes.api.filter((r) => [r.method].flat().some((m) => m !== 'get'));
    expect(mutating.length).toBeGreaterThan(10);
    const auth = { authorization: basic('ops', TOKEN) };
    for (const route of mutating) {
      for (const method of [route.method].flat()) {
        for (const template of [route.route].flat()) {
          const path = template.replace(/:(\w+)/g, (_, name: string) => params[name] ?? name);
          const r = await call(s.url, method.toUpperCase(), `/admin/queues${path}`, {
            headers: auth,
            body: { name: 'x', data: {}, delay: 0, priority: 1, concurrency: 1 },
          });
          expect([method, path, r.status, r.body?.code]).toEqual([
            method,
            path,
            405,
            'METHOD_NOT_ALLOWED',
          ]);
          expect(r.headers.get('allow')).toBe('GET, HEAD');
        }
      }
    }
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) {
      expect((await call(s.url, method, '/admin/queues', { headers: auth })).status).toBe(405);
    }
    // The job is where it was; no queue was paused, emptied or cleaned.
    expect((await job?.getState()) ?? '').toBe('waiting');
    expect(await queues.count('waiting')).toBe(1);
    expect(await queues.of('board/a').isPaused()).toBe(false);
  });
});

describe('scopes, with real API keys', () => {
  it('403 INSUFFICIENT_SCOPE for read and write keys, 200 for admin', async () => {
    const store = createApiKeyStore({ redis: s.kvRedis, keys: apiKeyKeys(s.config.KEY_PREFIX) });
    const secrets: Record<string, string> = {};
    for (const scope of ['read', 'write', 'admin'] as const) {
      const made = newApiKey({ name: `board-${scope}`, scope, now: Date.now() });
      await store.create(made.key);
      secrets[scope] = made.secret;
    }
    for (const path of ['/admin/queues', '/admin/queues/api/queues', '/v1/admin/audit']) {
      for (const [scope, status] of [
        ['read', 403],
        ['write', 403],
        ['admin', 200],
      ] as const) {
        const secret = secrets[scope] ?? '';
        const authorization = path.startsWith('/v1') ? `Bearer ${secret}` : basic('u', secret);
        const r = await call(s.url, 'GET', path, { headers: { authorization } });
        expect([path, scope, r.status]).toEqual([path, scope, status]);
        if (status === 403) {
          expect(r.headers.get('content-type')).toBe('application/problem+json');
          expect(r.body.code).toBe('INSUFFICIENT_SCOPE');
          expect(r.headers.get('www-authenticate')).toMatch(/error="insufficient_scope"/);
        }
      }
    }
  });
});

describe('without authentication', () => {
  it('is not served at all by default (ADMIN_UI=auto)', async () => {
    const open = await startStack({ worker: false });
    try {
      const r = await call(open.url, 'GET', '/admin/queues');
      expect([r.status, r.body.code]).toEqual([404, 'ROUTE_NOT_FOUND']);
      expect((await call(open.url, 'GET', '/admin/queues/api/queues')).status).toBe(404);
    } finally {
      await open.stop();
    }
  });

  it('ADMIN_UI=on serves it on loopback without credentials, still read-only', async () => {
    const open = await startStack({ worker: false, env: { ADMIN_UI: 'on' } });
    try {
      expect((await call(open.url, 'GET', '/admin/queues')).status).toBe(200);
      const r = await call(open.url, 'GET', '/admin/queues/api/queues');
      expect(r.body.queues).toHaveLength(open.layout.count);
      const paused = await call(open.url, 'PUT', '/admin/queues/api/queues/pause');
      expect(paused.status).toBe(405);
    } finally {
      await open.stop();
    }
  });
});
