/** Baseline 3: a raw BullMQ worker loop, one SET per job, at the same concurrency as kvq's. */
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';

const data = new Redis(process.env.KV_REDIS_URL ?? '');
const worker = new Worker<{ key: string; value: string }>(
  process.env.QUEUE_NAME ?? 'bare',
  async (job) => {
    await data.set(job.data.key, job.data.value);
  },
  {
    connection: { url: process.env.QUEUE_REDIS_URL ?? '', maxRetriesPerRequest: null },
    concurrency: Number(process.env.WORKER_CONCURRENCY ?? 64),
    removeOnComplete: { count: 0 },
  },
);
process.on('SIGTERM', () => {
  void worker.close().then(() => process.exit(0));
});
process.stdout.write('ready\n');
