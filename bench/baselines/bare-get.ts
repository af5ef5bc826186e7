/** Baseline 1: a bare Hono + ioredis route doing one GET (what a read costs with nothing on top). */
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { Redis } from 'ioredis';

const redis = new Redis(process.env.KV_REDIS_URL ?? '');
const app = new Hono();
app.get('/k/:key', async (c) => {
  const v = await redis.get(c.req.param('key'));
  return v === null
    ? c.json({ error: 'not found' }, 404)
    : c.json({ value: JSON.parse(v) as unknown });
});
serve({ fetch: app.fetch, port: Number(process.env.PORT), hostname: '127.0.0.1' }, () => {
  process.stdout.write('ready\n');
});
