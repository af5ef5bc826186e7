/**
 * Baseline 3: a raw BullMQ worker loop, one SET per job, at the same concurrency as kvq's.
 *
 * With RAW_RECEIPTS=1 it is the reference floor for kvq's design instead: the least a worker with
 * receipts and a version read at apply time must do per job, with plain commands and no kvq code:
 * read the receipt (queue Redis), SET (data Redis), write the receipt (queue Redis), in sequence.
 */
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';

const data = new Redis(process.env.KV_REDIS_URL ?? '');
const receipts =
  process.env.RAW_RECEIPTS === '1' ? new Redis(process.env.QUEUE_REDIS_URL ?? '') : null;
const worker = new Worker<{ key: string; value: string }>(
  process.env.QUEUE_NAME ?? 'bare',
  async (job) => {
    if (!receipts) {
      await data.set(job.data.key, job.data.value);
      return;
    }
    const receipt = `bare-receipt:${job.id ?? ''}`;
    await receipts.hget(receipt, 'status');
    await data.set(job.data.key, job.data.value);
    await receipts.hset(receipt, 'status', 'applied');
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
