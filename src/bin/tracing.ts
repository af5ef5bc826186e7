import { context, diag, DiagLogLevel, propagation } from '@opentelemetry/api';
import type { SpanExporter } from '@opentelemetry/sdk-trace';

import { version } from '../cli/index.ts';
import {
  type Config,
  type Lifecycle,
  type Logger,
  type Tracer,
  TRACER_NAME,
  type TracingSettings,
  tracingSettings,
} from '../core/index.ts';

/**
 * Tracing for one process, when configured (see tracingSettings in core/config.ts): an
 * OpenTelemetry SDK tracer provider with a batching OTLP/HTTP (or console) exporter, the
 * AsyncLocalStorage context manager and the W3C Trace Context propagator. Undefined when tracing
 * is off: then no SDK module is even loaded, and every part that takes a tracer starts no span.
 * The provider is flushed and shut down last at exit (it is registered first).
 *
 * `exporter` (tests): spans go to it, each as soon as it ends, whatever the configuration says.
 */
export async function startTracing(
  config: Config,
  role: string,
  logger: Logger,
  lifecycle: Lifecycle,
  exporter?: SpanExporter,
): Promise<Tracer | undefined> {
  const settings = tracingSettings(config);
  if (!settings && !exporter) return undefined;
  const [sdk, { AsyncLocalStorageContextManager }, { W3CTraceContextPropagator }, resources] =
    await Promise.all([
      import('@opentelemetry/sdk-trace'),
      import('@opentelemetry/context-async-hooks'),
      import('@opentelemetry/core'),
      import('@opentelemetry/resources'),
    ]);
  // Process-wide, and idempotent: a second provider in the same process (`kvq dev`'s API and
  // workers share one; tests start several) finds them in place.
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  // The SDK's own complaints (an export that failed, a full queue) go to kvq's log.
  const warn = (message: string, ...args: unknown[]) => {
    const err = args.find((a) => a instanceof Error);
    logger.warn(err ? { err } : {}, `tracing: ${message}`);
  };
  diag.setLogger(
    {
      error: warn,
      warn,
      info: () => undefined,
      debug: () => undefined,
      verbose: () => undefined,
    },
    { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true },
  );

  const processor = exporter
    ? new sdk.SimpleSpanProcessor({ exporter })
    : new sdk.BatchSpanProcessor({ exporter: await exporterFor(settings, sdk) });
  const provider = new sdk.TracerProvider({
    resource: resources.defaultResource().merge(
      resources.resourceFromAttributes({
        ...settings?.resourceAttributes,
        'service.name': settings?.serviceName ?? config.OTEL_SERVICE_NAME,
        'service.version': version(),
        'kvq.role': role,
      }),
    ),
    sampler: samplerFor(settings, sdk),
    spanProcessors: [processor],
  });
  lifecycle.register('tracing', () => provider.shutdown());
  if (settings) {
    logger.info(
      { exporter: settings.exporter, url: settings.exporter === 'otlp' ? settings.url : undefined },
      'tracing on',
    );
  }
  return provider.getTracer(TRACER_NAME, version());
}

type Sdk = typeof import('@opentelemetry/sdk-trace');

async function exporterFor(settings: TracingSettings | undefined, sdk: Sdk): Promise<SpanExporter> {
  if (settings?.exporter !== 'otlp') return new sdk.ConsoleSpanExporter();
  const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http');
  return new OTLPTraceExporter({ url: settings.url, headers: { ...settings.headers } });
}

/** OTEL_TRACES_SAMPLER as the specification defines its values. */
function samplerFor(settings: TracingSettings | undefined, sdk: Sdk) {
  const ratio = () => new sdk.TraceIdRatioBasedSampler(settings?.samplerRatio ?? 1);
  switch (settings?.sampler ?? 'parentbased_always_on') {
    case 'always_on':
      return new sdk.AlwaysOnSampler();
    case 'always_off':
      return new sdk.AlwaysOffSampler();
    case 'traceidratio':
      return ratio();
    case 'parentbased_always_off':
      return new sdk.ParentBasedSampler({ root: new sdk.AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new sdk.ParentBasedSampler({ root: ratio() });
    case 'parentbased_always_on':
      return new sdk.ParentBasedSampler({ root: new sdk.AlwaysOnSampler() });
  }
}
