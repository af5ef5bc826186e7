import { expect, it } from 'vitest';

import { freePort } from '../../src/redis/index.ts';
import { exitOf, output, spawnRole, stopChild } from '../helpers/processes.ts';
import { eventually } from '../helpers/stack.ts';

/**
 * A worker whose Redis is down says so once per Redis (host:port and cause, no password), folds
 * the errors its periodic tasks and BullMQ keep reporting instead of printing a stack trace for
 * each, and still stops promptly when asked.
 */
it('a worker with both Redis down: one line each, no stack traces, no password, prompt stop', async () => {
  const queuePort = await freePort();
  const dataPort = await freePort();
  const w = spawnRole('worker', {
    QUEUE_REDIS_URL: `redis://app:hunter2@127.0.0.1:${String(queuePort)}`,
    KV_REDIS_URL: `redis://127.0.0.1:${String(dataPort)}`,
    LOG_LEVEL: 'info',
    LOG_FORMAT: 'json',
    RECONCILE_INTERVAL_MS: '200',
  });
  const out = output(w);
  try {
    expect(await eventually(() => out().includes('worker started'), 20_000, 50), out()).toBe(true);
    // Several reaper (1 s) and reconciler ticks, and BullMQ's fetch retries, all failing.
    await new Promise((r) => setTimeout(r, 3000));
    const text = out();
    expect(text).toContain(
      `queue Redis at 127.0.0.1:${String(queuePort)} not reachable yet (ECONNREFUSED)`,
    );
    expect(text).toContain(
      `data Redis at 127.0.0.1:${String(dataPort)} not reachable yet (ECONNREFUSED)`,
    );
    expect(text).not.toContain('hunter2');
    expect(text).not.toContain('"stack"');
    const lines = text.trim().split('\n');
    // Each distinct failure once (the folding window is longer than this test).
    const messages = lines.map((l) => (JSON.parse(l) as { msg: string }).msg);
    expect(new Set(messages).size).toBe(messages.length);
    const t = Date.now();
    const exit = await stopChild(w, 'SIGTERM');
    expect(exit.code).toBe(0);
    // Far below SHUTDOWN_TIMEOUT_MS (20 s): nothing waits for a Redis that is not there.
    expect(Date.now() - t).toBeLessThan(5000);
  } finally {
    await stopChild(w, 'SIGKILL');
    await exitOf(w);
  }
}, 40_000);
