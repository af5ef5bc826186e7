/** Baseline 2: a bare Hono route that only does queue.add (what accepting a write costs). */
import { serve } from '@hono/node-server';
import { Queue } from 'bullmq';
import { Hono } from 'hono';
import { Redis } from 'ioredis';

const connection = new Redis(process.env.QUEUE_REDIS_URL ?? '', { maxRetriesPerRequest: 1 });
const queue = new Queue(process.env.QUEUE_NAME ?? 'bare', { connection });
const app = new Hono();
app.put('/k/:key', async (c) => {
  const body: unknown = await c.req.json();
  const job = await queue.add('set', { key: c.req.param('key'), value: JSON.stringify(body) });
  return c.json({ id: job.id }, 202);
});
serve({ fetch: app.fetch, port: Number(process.env.PORT), hostname: '127.0.0.1' }, () => {
  process.stdout.write('ready\n');
});
