import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import { afterEach, describe, expect, it } from 'vitest';

import { createLifecycle, createLogger, loadConfig } from '../core/index.ts';
import { startTracing } from './tracing.ts';

/**
 * The SDK wiring against a stand-in collector on loopback: spans reach OTLP/HTTP at the configured
 * endpoint with the configured headers and resource, and are flushed at shutdown.
 */
interface Received {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

let server: Server | undefined;
afterEach(async () => {
  await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined));
  server = undefined;
});

async function collector(): Promise<{ url: string; received: Received[] }> {
  const received: Received[] = [];
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${String(port)}`, received };
}

describe('startTracing', () => {
  it('is off (no tracer) unless configured', async () => {
    const logger = createLogger('silent', 'test');
    const lifecycle = createLifecycle({ deadlineMs: 5000, logger });
    expect(await startTracing(loadConfig({}), 'api', logger, lifecycle)).toBeUndefined();
    expect(
      await startTracing(
        loadConfig({
          OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:1',
          OTEL_SDK_DISABLED: 'true',
        }),
        'api',
        logger,
        lifecycle,
      ),
    ).toBeUndefined();
  });

  it('exports spans as OTLP/HTTP JSON to <endpoint>/v1/traces, flushed at shutdown', async () => {
    const { url, received } = await collector();
    const logger = createLogger('silent', 'test');
    const lifecycle = createLifecycle({ deadlineMs: 5000, logger });
    const tracer = await startTracing(
      loadConfig({
        OTEL_EXPORTER_OTLP_ENDPOINT: url,
        OTEL_EXPORTER_OTLP_HEADERS: 'x-api-key=s%3Dcret',
        OTEL_SERVICE_NAME: 'kvq-test',
        OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=ci',
      }),
      'worker',
      logger,
      lifecycle,
    );
    expect(tracer).toBeDefined();
    tracer?.startSpan('exported-span').end();
    await lifecycle.shutdown('test done');

    expect(received.map((r) => [r.method, r.url])).toEqual([['POST', '/v1/traces']]);
    const [req] = received;
    expect(req?.headers['x-api-key']).toBe('s=cret');
    expect(req?.headers['content-type']).toMatch(/application\/json/);
    const body = req?.body ?? '';
    expect(body).toContain('"exported-span"');
    for (const [key, value] of [
      ['service.name', 'kvq-test'],
      ['kvq.role', 'worker'],
      ['deployment.environment.name', 'ci'],
    ]) {
      expect(body).toContain(`"key":"${key}","value":{"stringValue":"${value}"}`);
    }
  });

  it('samples nothing with OTEL_TRACES_SAMPLER=always_off', async () => {
    const { url, received } = await collector();
    const logger = createLogger('silent', 'test');
    const lifecycle = createLifecycle({ deadlineMs: 5000, logger });
    const tracer = await startTracing(
      loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: url, OTEL_TRACES_SAMPLER: 'always_off' }),
      'api',
      logger,
      lifecycle,
    );
    const span = tracer?.startSpan('dropped');
    expect(span?.isRecording()).toBe(false);
    span?.end();
    await lifecycle.shutdown('test done');
    expect(received).toEqual([]);
  });
});
