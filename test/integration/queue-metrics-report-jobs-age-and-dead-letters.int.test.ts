import { randomBytes } from 'node:crypto';

import { UnrecoverableError, Worker } from 'bullmq';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

import { missingFromScrape } from '../../scripts/monitoring.ts';
import { startApi } from '../../src/bin/api.ts';
import { startMetrics } from '../../src/bin/metrics.ts';
import { layoutOf } from '../../src/bin/stores.ts';
import { startWorker } from '../../src/bin/worker.ts';
import {
  type Config,
  createLifecycle,
  createLogger,
  type Lifecycle,
  loadConfig,
  type Logger,
} from '../../src/core/index.ts';
import type { Metrics } from '../../src/metrics/index.ts';
import { freePort } from '../../src/redis/index.ts';
import { call, eventually } from '../helpers/stack.ts';

/**
 * QUEUE_METRICS: the queue's jobs by state (summed over its partitions), the oldest waiting job's
 * age and the dead-letter count, on a real scrape, while writes wait with no worker running, after
 * one job fails for good, and once a worker has drained the rest and dead-lettered that one. And
 * that scrape (API, worker and queue metrics in one registry, as in `kvq dev`) has every metric
 * the alerts and the dashboard use (k8s/components/monitoring).
 */
const PARTITIONS = 4;
const WRITES = 6;
let lifecycle: Lifecycle;
let config: Config;
let logger: Logger;
let metrics: Metrics | undefined;
let api: string;
let metricsUrl: string;
const urls = { queueUrl: '', kvUrl: '' };

beforeAll(async () => {
  const id = randomBytes(4).toString('hex');
  config = loadConfig({
    QUEUE_REDIS_URL: inject('queueRedisUrl'),
    KV_REDIS_URL: inject('kvRedisUrl'),
    HOST: '127.0.0.1',
    PORT: '0',
    METRICS_PORT: String(await freePort()),
    QUEUE_METRICS: 'true',
    PARTITIONS: String(PARTITIONS),
    WORKER_HEALTH_PORT: '0',
    RECONCILE_INTERVAL_MS: '200',
    KEY_PREFIX: `qm${id}:`,
    QUEUE_NAME: `qm${id}`,
    LOG_LEVEL: 'silent',
  });
  urls.queueUrl = config.QUEUE_REDIS_URL ?? '';
  urls.kvUrl = config.KV_REDIS_URL ?? '';
  logger = createLogger(config.LOG_LEVEL, 'test');
  lifecycle = createLifecycle({ deadlineMs: 10_000, logger });
  const started = await startMetrics(config, 'api', logger, lifecycle);
  metrics = started.metrics;
  metricsUrl = `http://127.0.0.1:${String(started.port)}/metrics`;
  api = (await startApi(config, urls, logger, lifecycle, metrics)).url;
});
afterAll(async () => {
  await lifecycle.shutdown('test done');
});

async function gauge(name: string, labels: Record<string, string>): Promise<number | undefined> {
  const text = await (await fetch(metricsUrl)).text();
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)\{(.*)\} (\S+)$/.exec(line);
    if (m?.[1] !== name) continue;
    const have = (m[2] ?? '').split(',');
    if (want.length === have.length && want.every((w) => have.includes(w))) return Number(m[3]);
  }
  return undefined;
}
/** Waits (the queue is read every few seconds) until `name{labels}` satisfies `ok`. */
async function until(
  name: string,
  labels: Record<string, string>,
  ok: (v: number) => boolean,
): Promise<number | undefined> {
  let last: number | undefined;
  await eventually(
    async () => {
      last = await gauge(name, labels);
      return last !== undefined && ok(last);
    },
    20_000,
    100,
  );
  return last;
}

describe('queue metrics from the QUEUE_METRICS role', () => {
  const queue = () => ({ queue: config.QUEUE_NAME });
  const jobs = (state: string) => ({ ...queue(), state });

  it('start at zero for an empty queue', async () => {
    expect(await until('kvq_queue_metrics_up', queue(), (v) => v === 1)).toBe(1);
    for (const state of ['waiting', 'active', 'delayed', 'prioritized', 'failed']) {
      expect(await gauge('kvq_queue_jobs', jobs(state)), state).toBe(0);
    }
    expect(await gauge('kvq_queue_oldest_waiting_job_age_seconds', queue())).toBe(0);
    expect(await gauge('kvq_dead_letters', queue())).toBe(0);
  });

  it('count waiting jobs over every partition, and age the oldest', async () => {
    const layout = layoutOf(config);
    const keys = Array.from({ length: WRITES }, (_, i) => `qm/${String(i)}`);
    expect(new Set(keys.map((k) => layout.of(k))).size).toBeGreaterThan(1);
    const firstAt = Date.now();
    for (const k of keys) {
      expect((await call(api, 'PUT', `/v1/keys/${k}`, { body: { value: 1 } })).status).toBe(202);
    }
    expect(await until('kvq_queue_jobs', jobs('waiting'), (v) => v === WRITES)).toBe(WRITES);
    // Read again after a second has passed: the oldest job has aged by at least that much.
    await new Promise((r) => setTimeout(r, 1100));
    const age = await until('kvq_queue_oldest_waiting_job_age_seconds', queue(), (v) => v >= 1);
    expect(age).toBeGreaterThanOrEqual(1);
    expect(age).toBeLessThanOrEqual((Date.now() - firstAt) / 1000 + 1);
  });

  it('count a job that failed for good, then its dead letter once a worker is running', async () => {
    const layout = layoutOf(config);
    const name = layout.queueName(layout.of('qm/0'));
    // A bare BullMQ worker takes one job and fails it for good, recording nothing (as if kvq's
    // worker had died there); kvq's own worker then dead-letters it.
    const bare = new Worker(name, null, {
      connection: { url: urls.queueUrl, maxRetriesPerRequest: null },
    });
    const job = (await bare.getNextJob('tok')) as
      { moveToFailed: (e: Error, t: string) => Promise<unknown> } | undefined;
    expect(job).toBeDefined();
    await job?.moveToFailed(new UnrecoverableError('failed on purpose'), 'tok');
    await bare.close();
    expect(await until('kvq_queue_jobs', jobs('failed'), (v) => v === 1)).toBe(1);
    expect(await until('kvq_queue_jobs', jobs('waiting'), (v) => v === WRITES - 1)).toBe(
      WRITES - 1,
    );

    await startWorker(config, urls, logger, lifecycle, metrics);
    expect(await until('kvq_dead_letters', queue(), (v) => v === 1)).toBe(1);
    expect(await until('kvq_queue_jobs', jobs('waiting'), (v) => v === 0)).toBe(0);
    expect(await until('kvq_queue_oldest_waiting_job_age_seconds', queue(), (v) => v === 0)).toBe(
      0,
    );
  });

  it('leave no metric used by an alert or the dashboard out of the scrape', async () => {
    const text = await (await fetch(metricsUrl)).text();
    expect(missingFromScrape(text)).toEqual([]);
    // The check itself: an empty scrape lacks them all.
    expect(missingFromScrape('')).toEqual(
      expect.arrayContaining([
        'alert KvqDeadLetters: kvq_dead_letters',
        'alert KvqWorkersSaturated: kvq_queue_jobs',
      ]),
    );
  });
});
