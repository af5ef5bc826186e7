import { randomBytes } from 'node:crypto';

import { afterEach, describe, expect, inject, it } from 'vitest';

import { startApi } from '../../src/bin/api.ts';
import { createLifecycle, createLogger, type Lifecycle, loadConfig } from '../../src/core/index.ts';

/**
 * The access log is one function both request paths call: the raw fast lane (plain `GET` and
 * `PUT /v1/keys/{key}`) and Hono (everything else). With it on, every answered request gives
 * exactly one line with method, path, status, ms and the request id; with it off, none.
 */
let lifecycle: Lifecycle | undefined;
afterEach(async () => {
  await lifecycle?.shutdown('test done');
  lifecycle = undefined;
});

async function api(env: Record<string, string>) {
  const id = randomBytes(4).toString('hex');
  const config = loadConfig({
    QUEUE_REDIS_URL: inject('queueRedisUrl'),
    KV_REDIS_URL: inject('kvRedisUrl'),
    PORT: '0',
    KEY_PREFIX: `al${id}:`,
    QUEUE_NAME: `al${id}`,
    ...env,
  });
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger(config.LOG_LEVEL, 'test', {
    format: 'json',
    destination: { write: (l: string) => lines.push(JSON.parse(l) as Record<string, unknown>) },
  });
  lifecycle = createLifecycle({ deadlineMs: 5000, logger });
  const handle = await startApi(
    config,
    { queueUrl: config.QUEUE_REDIS_URL ?? '', kvUrl: config.KV_REDIS_URL ?? '' },
    logger,
    lifecycle,
  );
  const requests = () => lines.filter((l) => l.msg === 'request');
  return { url: handle.url, requests, address: handle.server.address() };
}

describe('access log', () => {
  it('on: one line per request from the raw lane and from Hono alike', async () => {
    const { url, requests } = await api({ LOG_LEVEL: 'info', ACCESS_LOG: 'true' });
    const sent = [
      // Raw lane: plain PUT and GET of a key.
      ['PUT', '/v1/keys/logged', { 'Content-Type': 'application/json' }, '{"value":1}'],
      ['GET', '/v1/keys/logged', {}, undefined],
      ['GET', '/v1/keys/never-written', {}, undefined],
      // Hono: other routes, and a key read with a query string.
      ['GET', '/healthz', {}, undefined],
      ['GET', '/v1/keys/logged?after=nonsense', {}, undefined],
    ] as const;
    const answers: { status: number; requestId: string | null }[] = [];
    for (const [method, path, headers, body] of sent) {
      const res = await fetch(url + path, { method, headers, body });
      await res.arrayBuffer();
      answers.push({ status: res.status, requestId: res.headers.get('x-request-id') });
    }
    await new Promise((r) => setTimeout(r, 50));
    const logged = requests();
    expect(logged).toHaveLength(sent.length);
    sent.forEach(([method, path], i) => {
      const line = logged[i] ?? {};
      const answer = answers[i];
      expect(line).toMatchObject({ level: 30, method, status: answer?.status });
      expect(path.startsWith(String(line.path))).toBe(true);
      expect(typeof line.ms).toBe('number');
      if (answer?.requestId) expect(line.requestId).toBe(answer.requestId);
    });
    expect(logged.map((l) => l.status)).toEqual(answers.map((a) => a.status));
  });

  it('off by default outside kvq dev (info level): no request lines', async () => {
    const { url, requests } = await api({ LOG_LEVEL: 'info' });
    await (await fetch(`${url}/v1/keys/quiet`)).arrayBuffer();
    await (await fetch(`${url}/healthz`)).arrayBuffer();
    expect(requests()).toEqual([]);
  });

  it('listens on 127.0.0.1 unless HOST says otherwise', async () => {
    const { address } = await api({ LOG_LEVEL: 'silent' });
    expect(typeof address === 'object' && address ? address.address : address).toBe('127.0.0.1');
  });
});
