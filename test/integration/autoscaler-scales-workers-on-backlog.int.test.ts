import { createServer, type IncomingMessage, type Server } from 'node:http';

import { KubeConfig } from '@kubernetes/client-node';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';

import { startAutoscaler } from '../../src/bin/autoscaler.ts';
import { layoutOf } from '../../src/bin/stores.ts';
import { createLifecycle, createLogger, loadConfig } from '../../src/core/index.ts';
import { createMetrics } from '../../src/metrics/index.ts';
import { eventually } from '../helpers/stack.ts';

/**
 * The autoscaler against a fake Kubernetes API over HTTP (no cluster here): it must read the
 * worker Deployment's scale subresource and merge-patch spec.replicas, nothing else.
 */
interface Seen {
  method: string;
  url: string;
  contentType: string | undefined;
  auth: string | undefined;
  body: string;
}
let api: Server;
let port = 0;
let replicas = 1;
const seen: Seen[] = [];

function read(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    let b = '';
    req.on('data', (d: Buffer) => (b += d.toString()));
    req.on('end', () => resolve(b));
  });
}

beforeAll(async () => {
  api = createServer((req, res) => {
    void (async () => {
      const body = await read(req);
      seen.push({
        method: req.method ?? '',
        url: req.url ?? '',
        contentType: req.headers['content-type'],
        auth: req.headers.authorization,
        body,
      });
      if (
        req.url?.split('?')[0] !== '/apis/apps/v1/namespaces/kvq-test/deployments/kvq-worker/scale'
      ) {
        res.writeHead(404, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ kind: 'Status', code: 404 }));
        return;
      }
      if (req.method === 'PATCH')
        replicas = (JSON.parse(body) as { spec: { replicas: number } }).spec.replicas;
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(
        JSON.stringify({
          kind: 'Scale',
          apiVersion: 'autoscaling/v1',
          metadata: { name: 'kvq-worker', namespace: 'kvq-test' },
          spec: { replicas },
          status: { replicas },
        }),
      );
    })();
  });
  await new Promise<void>((r) => api.listen(0, '127.0.0.1', r));
  const a = api.address();
  port = typeof a === 'object' && a ? a.port : 0;
});
afterAll(() => {
  api.close();
});

it('scales the worker Deployment to ceil(backlog / target), clamped, and back down after the cool-down', async () => {
  const queueName = `as${String(Date.now())}`;
  const config = loadConfig({
    QUEUE_REDIS_URL: inject('queueRedisUrl'),
    QUEUE_NAME: queueName,
    PORT: '0',
    HOST: '127.0.0.1',
    AUTOSCALER_NAMESPACE: 'kvq-test',
    TARGET_BACKLOG_PER_WORKER: '10',
    MIN_WORKERS: '1',
    MAX_WORKERS: '4',
    AUTOSCALER_INTERVAL_MS: '500',
    SCALE_DOWN_COOLDOWN_MS: '1500',
    LOG_LEVEL: 'silent',
  });
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'fake', server: `http://127.0.0.1:${String(port)}`, skipTLSVerify: true }],
    users: [{ name: 'sa', token: 'test-token' }],
    contexts: [{ name: 'fake', cluster: 'fake', user: 'sa', namespace: 'kvq-test' }],
    currentContext: 'fake',
  });
  const logger = createLogger(process.env.TEST_LOG_LEVEL ?? 'silent', 'autoscaler');
  const lifecycle = createLifecycle({ deadlineMs: 5000, logger });
  // The backlog is summed over the partitions' queues: jobs go to two of them.
  const layout = layoutOf(config);
  const connection = { url: inject('queueRedisUrl') };
  const queue = new Queue(layout.queueName(0), { connection });
  const other = new Queue(layout.queueName(layout.count - 1), { connection });
  try {
    await startAutoscaler(config, inject('queueRedisUrl'), logger, lifecycle, kc);
    // 10 + 15 waiting jobs → ceil(25 / 10) = 3 workers.
    await queue.addBulk(Array.from({ length: 10 }, (_, i) => ({ name: 'apply', data: { i } })));
    await other.addBulk(Array.from({ length: 15 }, (_, i) => ({ name: 'apply', data: { i } })));
    expect(await eventually(() => replicas === 3, 5000, 50)).toBe(true);
    // 100 → 10, clamped to MAX_WORKERS = 4.
    await queue.addBulk(Array.from({ length: 75 }, (_, i) => ({ name: 'apply', data: { i } })));
    expect(await eventually(() => replicas === 4, 5000, 50)).toBe(true);
    // Drained → back to MIN_WORKERS, but only after the cool-down.
    await Promise.all([queue.obliterate({ force: true }), other.obliterate({ force: true })]);
    const drainedAt = Date.now();
    expect(await eventually(() => replicas === 1, 8000, 50)).toBe(true);
    expect(Date.now() - drainedAt).toBeGreaterThanOrEqual(1400);

    const patches = seen.filter((s) => s.method === 'PATCH');
    expect(patches.map((p) => JSON.parse(p.body))).toEqual([
      { spec: { replicas: 3 } },
      { spec: { replicas: 4 } },
      { spec: { replicas: 1 } },
    ]);
    expect(patches.every((p) => p.contentType === 'application/merge-patch+json')).toBe(true);
    expect(seen.every((s) => s.auth === 'Bearer test-token')).toBe(true);
    expect(new Set(seen.map((s) => `${s.method} ${s.url.split('?')[0] ?? ''}`))).toEqual(
      new Set([
        'GET /apis/apps/v1/namespaces/kvq-test/deployments/kvq-worker/scale',
        'PATCH /apis/apps/v1/namespaces/kvq-test/deployments/kvq-worker/scale',
      ]),
    );
  } finally {
    await Promise.all([queue.close(), other.close()]);
    await lifecycle.shutdown('test');
  }
}, 30_000);

it('with QUEUE_METRICS, reads the queue into its metrics: the one role that does, in the manifests', async () => {
  const config = loadConfig({
    QUEUE_REDIS_URL: inject('queueRedisUrl'),
    QUEUE_NAME: `asm${String(Date.now())}`,
    PORT: '0',
    HOST: '127.0.0.1',
    AUTOSCALER_NAMESPACE: 'kvq-test',
    QUEUE_METRICS: 'true',
    LOG_LEVEL: 'silent',
  });
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'fake', server: `http://127.0.0.1:${String(port)}`, skipTLSVerify: true }],
    users: [{ name: 'sa', token: 'test-token' }],
    contexts: [{ name: 'fake', cluster: 'fake', user: 'sa', namespace: 'kvq-test' }],
    currentContext: 'fake',
  });
  const logger = createLogger(process.env.TEST_LOG_LEVEL ?? 'silent', 'autoscaler');
  const lifecycle = createLifecycle({ deadlineMs: 5000, logger });
  const metrics = createMetrics({ version: '0.0.0', role: 'autoscaler' });
  const queue = new Queue(layoutOf(config).queueName(1), {
    connection: { url: inject('queueRedisUrl') },
  });
  const waiting = async () =>
    (await metrics.registry.getSingleMetric('kvq_queue_jobs')?.get())?.values.find(
      (v) => v.labels.state === 'waiting' && v.labels.queue === config.QUEUE_NAME,
    )?.value;
  try {
    await startAutoscaler(config, inject('queueRedisUrl'), logger, lifecycle, kc, metrics);
    // Its Redis connection may not be ready for the first reading; the next comes 5 s later.
    expect(await eventually(async () => (await waiting()) === 0, 12_000, 100)).toBe(true);
    await queue.addBulk(Array.from({ length: 7 }, (_, i) => ({ name: 'apply', data: { i } })));
    expect(await eventually(async () => (await waiting()) === 7, 10_000, 100)).toBe(true);
  } finally {
    await queue.obliterate({ force: true });
    await queue.close();
    await lifecycle.shutdown('test');
  }
}, 30_000);
