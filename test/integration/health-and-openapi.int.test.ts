import { Redis } from 'ioredis';
import request from 'supertest';
import { afterAll, beforeAll, expect, it } from 'vitest';

import { createApp, createOpWaiter } from '../../src/api/index.ts';
import { apiKeyKeys, createLogger, keyLayout } from '../../src/core/index.ts';
import {
  createApiKeyStore,
  createAuditLog,
  createDeadLetters,
  createLedger,
  createRecordStore,
} from '../../src/store/index.ts';
import { call, type Stack, startStack } from '../helpers/stack.ts';

let s: Stack;
beforeAll(async () => {
  s = await startStack({ worker: false });
});
afterAll(async () => {
  await s.stop();
});

it('/healthz and /readyz answer 200 when both Redis are up', async () => {
  await request(s.url).get('/healthz').expect('Content-Type', /json/).expect(200, { status: 'ok' });
  const r = await request(s.url).get('/readyz').expect(200);
  expect(r.body.checks).toEqual({ queueRedis: 'up', dataRedis: 'up', lifecycle: 'running' });
  await request(s.url).head('/healthz').expect(200);
});

it('serves an OpenAPI 3.1 document generated from the route schemas', async () => {
  const r = await call(s.url, 'GET', '/openapi.json');
  expect(r.status).toBe(200);
  expect(r.body.openapi).toBe('3.1.0');
  const paths = Object.keys(r.body.paths);
  expect(paths).toEqual(
    expect.arrayContaining(['/v1/keys/{key}', '/v1/keys', '/v1/ops/{id}', '/healthz', '/readyz']),
  );
  const put = r.body.paths['/v1/keys/{key}'].put;
  expect(Object.keys(put.responses)).toEqual(expect.arrayContaining(['202', '412', '413', '415']));
  expect(r.body.components.schemas.PutBody.required).toContain('value');
});

it('serves Swagger UI at /docs from kvq itself: no other origin is named', async () => {
  const page = await call(s.url, 'GET', '/docs');
  expect(page.status).toBe(200);
  expect(page.headers.get('content-type')).toMatch(/^text\/html/);
  const assets = [...page.text.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
  expect(assets.sort()).toEqual([
    '/docs/docs.js',
    '/docs/favicon-32x32.png',
    '/docs/swagger-ui-bundle.js',
    '/docs/swagger-ui.css',
  ]);
  const version = (await import('swagger-ui-dist/package.json', { with: { type: 'json' } })).default
    .version;
  const pinned = (await import('../../package.json', { with: { type: 'json' } })).default
    .dependencies['swagger-ui-dist'];
  expect(pinned).toBe(version);
  for (const asset of assets) {
    const r = await fetch(s.url + asset);
    expect(r.status, asset).toBe(200);
    expect((await r.arrayBuffer()).byteLength, asset).toBeGreaterThan(100);
  }
  const init = await call(s.url, 'GET', '/docs/docs.js');
  expect(init.headers.get('content-type')).toMatch(/^text\/javascript/);
  expect(page.text).toContain('data-url="/openapi.json"');
  expect(init.text).toContain('.dataset.url');
  expect(init.text).toContain('validatorUrl: null');
  for (const text of [page.text, init.text]) expect(text).not.toMatch(/https?:\/\//);
});

it('GET / redirects to the docs (302: DOCS_ENABLED can turn them off)', async () => {
  const r = await fetch(`${s.url}/`, { redirect: 'manual' });
  expect(r.status).toBe(302);
  expect(r.headers.get('location')).toBe('/docs');
});

it('/readyz and writes answer 503 once shutdown has begun', async () => {
  const queueRedis = new Redis(s.queueUrl);
  const kvRedis = new Redis(s.kvUrl);
  try {
    const layout = keyLayout({ prefix: 'sd:', queueName: 'sd', partitions: 12 });
    const ledger = createLedger({
      redis: queueRedis,
      layout,
      retentionMs: 60_000,
      retentionCount: 100,
    });
    const records = createRecordStore({ redis: kvRedis, layout, fenceWindowMs: 60_000 });
    const app = createApp({
      ledger,
      records,
      deadLetters: createDeadLetters({ redis: queueRedis, layout }),
      enqueue: () => Promise.reject(new Error('must not enqueue while shutting down')),
      acceptAndEnqueue: () => Promise.reject(new Error('must not enqueue while shutting down')),
      admission: {
        check: () => Promise.reject(new Error('must not be asked while shutting down')),
        refresh: () => Promise.resolve(),
      },
      keyBusyWaitMs: 0,
      waiter: createOpWaiter({
        ledger,
        subscriber: { subscribe: async () => {}, unsubscribe: async () => {}, onMessage: () => {} },
      }),
      logger: createLogger('silent', 'test'),
      limits: { maxKeyBytes: 512, maxValueBytes: 1024 },
      readAfterWaitMs: 0,
      docsEnabled: false,
      auditLog: createAuditLog({ redis: kvRedis, key: layout.global.auditLog, maxEntries: 10 }),
      apiKeys: createApiKeyStore({ redis: kvRedis, keys: apiKeyKeys('kvq:') }),
      isShuttingDown: () => true,
    });
    const ready = await app.request('/readyz');
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({
      checks: { lifecycle: 'stopping', queueRedis: 'up' },
    });
    const w = await app.request('/v1/keys/x', {
      method: 'PUT',
      headers: { 'Content-Type': 'application/json' },
      body: '{"value":1}',
    });
    expect(w.status).toBe(503);
    expect(w.headers.get('retry-after')).toBe('1');
    expect(((await w.json()) as { code: string }).code).toBe('SHUTTING_DOWN');
    expect((await app.request('/docs')).status).toBe(404);
    expect((await app.request('/docs/swagger-ui.css')).status).toBe(404);
    // Without docs, the root points at the document instead.
    const root = await app.request('/');
    expect(root.status).toBe(200);
    expect(await root.json()).toEqual({ name: 'kvq', openapi: '/openapi.json', docs: null });
  } finally {
    queueRedis.disconnect();
    kvRedis.disconnect();
  }
});
