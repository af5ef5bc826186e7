/**
 * `npm run chaos:fsync`: what a SIGKILL of the queue Redis costs under each AOF fsync policy.
 * One API, no workers (so every accepted job stays in the queue Redis), writes at full speed,
 * SIGKILL the queue Redis mid-stream, restart it from its AOF, then count the writes that got a
 * 202 but whose receipt or job is gone. Loopback only, bounded, stops by itself.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Redis } from 'ioredis';

import { keyLayout, loadConfig } from '../src/core/index.ts';
import { startCluster } from './cluster.ts';
import { receiptKey } from './settle.ts';

const PREFIX = 'fs:';
const QUEUE = 'fsync';
const layout = keyLayout({
  prefix: PREFIX,
  queueName: QUEUE,
  partitions: Number(process.env.PARTITIONS ?? loadConfig({}).PARTITIONS),
});

async function trial(fsync: 'everysec' | 'always') {
  const dir = mkdtempSync(join(tmpdir(), `kvq-fsync-${fsync}-`));
  const cluster = await startCluster({
    dir,
    apis: 1,
    workers: 0,
    fsync,
    env: {
      KEY_PREFIX: PREFIX,
      QUEUE_NAME: QUEUE,
      PARTITIONS: String(layout.count),
      MAX_BACKLOG: '0',
    },
  });
  const url = cluster.apiUrls()[0] ?? '';
  const acked: string[] = [];
  let running = true;
  let seq = 0;
  const t0 = Date.now();
  const loop = async () => {
    while (running) {
      const i = seq++;
      try {
        const r = await fetch(`${url}/v1/keys/k${String(i % 500)}`, {
          method: 'PUT',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ value: i }),
          signal: AbortSignal.timeout(3000),
        });
        if (r.status === 202) acked.push(((await r.json()) as { op: { id: string } }).op.id);
        else await r.body?.cancel();
      } catch {
        // the queue Redis is down
      }
    }
  };
  try {
    const loops = Array.from({ length: 64 }, loop);
    await new Promise((r) => setTimeout(r, 3000));
    const ackedBeforeKill = acked.length;
    const killedAt = Date.now();
    await cluster.queue.restartStandalone('SIGKILL');
    running = false;
    await Promise.all(loops);
    const redis = new Redis(cluster.queue.url);
    let lost = 0;
    for (let i = 0; i < acked.length; i += 1000) {
      const pipe = redis.pipeline();
      for (const id of acked.slice(i, i + 1000)) {
        pipe.exists(receiptKey(layout, id));
        // BullMQ's job hash: its default prefix, the partition's queue, the job id (= op id).
        pipe.exists(`bull:${layout.queueName(layout.ofOp(id) ?? 0)}:${id}`);
      }
      const rows = (await pipe.exec()) ?? [];
      for (let j = 0; j < rows.length; j += 2) {
        if (Number(rows[j]?.[1]) === 0 || Number(rows[j + 1]?.[1]) === 0) lost++;
      }
    }
    redis.disconnect();
    return {
      fsync,
      acked: acked.length,
      rate: Math.round(ackedBeforeKill / ((killedAt - t0) / 1000)),
      lost,
    };
  } finally {
    running = false;
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const rows = [];
for (const policy of ['everysec', 'always'] as const) {
  for (let n = 0; n < 3; n++) rows.push(await trial(policy));
}
console.log(
  '| appendfsync | accepted writes/s before the kill | writes acknowledged (202) | acknowledged but lost after SIGKILL |',
);
console.log('| --- | ---: | ---: | ---: |');
for (const r of rows) {
  console.log(`| ${r.fsync} | ${String(r.rate)} | ${String(r.acked)} | ${String(r.lost)} |`);
}
