/**
 * Baseline 2: a bare Hono route that only does queue.add (what accepting a write costs).
 *
 * With BARE_VERSION=1 it is the reference floor for accepting with a version instead: the least a
 * route that gives each write a per-key version and an op id at acceptance must do, the way kvq
 * sends it (one corked socket write): HINCRBY of the key's counter plus the job, answered with
 * both. No validation, no receipt.
 */
import { randomUUID } from 'node:crypto';

import { serve } from '@hono/node-server';
import { createIORedisClient, Job, Queue } from 'bullmq';
import { Hono } from 'hono';
import { Redis } from 'ioredis';

const connection = new Redis(process.env.QUEUE_REDIS_URL ?? '', { maxRetriesPerRequest: 1 });
const queue = new Queue(process.env.QUEUE_NAME ?? 'bare', { connection });
const versioned = process.env.BARE_VERSION === '1';
const client = createIORedisClient(connection);
const app = new Hono();
app.put('/k/:key', async (c) => {
  const body: unknown = await c.req.json();
  const key = c.req.param('key');
  const data = { key, value: JSON.stringify(body) };
  if (!versioned) {
    const job = await queue.add('set', data);
    return c.json({ id: job.id }, 202);
  }
  const id = randomUUID();
  const stream = connection.stream as unknown as { cork(): void; uncork(): void };
  stream.cork();
  const version = connection.hincrby(`bare-version:${key}`, 'n', 1);
  const added = new Job(queue, 'set', data, { jobId: id }, id).addJob(client);
  stream.uncork();
  return c.json({ id, version: (await Promise.all([version, added]))[0] }, 202);
});
await queue.waitUntilReady();
serve({ fetch: app.fetch, port: Number(process.env.PORT), hostname: '127.0.0.1' }, () => {
  process.stdout.write('ready\n');
});
