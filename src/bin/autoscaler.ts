import { AppsV1Api, KubeConfig } from '@kubernetes/client-node';

import { createAutoscaler, k8sScaleTarget } from '../autoscaler/index.ts';
import type { Config, Lifecycle, Logger } from '../core/index.ts';
import type { Metrics } from '../metrics/index.ts';
import { createQueueHandles } from '../queue/index.ts';
import { closeClient, createRedisClient } from '../redis/index.ts';
import { createDeadLetters } from '../store/index.ts';
import { startHealthServer } from './health-server.ts';
import { watchQueue } from './metrics.ts';
import { layoutOf } from './stores.ts';

/**
 * Composition root of `kvq autoscaler`: queue backlog in, worker replicas out. In a cluster it uses
 * the pod's service account; elsewhere the current kubeconfig (or `kubeConfig` for tests).
 */
export async function startAutoscaler(
  config: Config,
  queueUrl: string,
  logger: Logger,
  lifecycle: Lifecycle,
  kubeConfig?: KubeConfig,
  metrics?: Metrics,
) {
  const kc = kubeConfig ?? new KubeConfig();
  if (!kubeConfig) {
    if (config.KUBERNETES_SERVICE_HOST) kc.loadFromCluster();
    else kc.loadFromDefault();
  }
  const apps = kc.makeApiClient(AppsV1Api);
  const redis = createRedisClient(queueUrl, 'command', config, 'autoscaler');
  lifecycle.register('redis', () => closeClient(redis));
  const layout = layoutOf(config);
  const queues = createQueueHandles(layout, redis);
  lifecycle.register('queue', () => queues.close());
  // The manifests give this role QUEUE_METRICS: one replica, and it reads the queue already.
  watchQueue(
    config,
    metrics,
    () => ({ queues, connection: redis, deadLetters: createDeadLetters({ redis, layout }) }),
    lifecycle,
  );

  const autoscaler = createAutoscaler({
    // Summed over the partitions' queues.
    backlog: () => queues.backlog(),
    target: k8sScaleTarget(apps, config.AUTOSCALER_NAMESPACE, config.AUTOSCALER_DEPLOYMENT),
    policy: {
      targetBacklogPerWorker: config.TARGET_BACKLOG_PER_WORKER,
      minReplicas: config.MIN_WORKERS,
      maxReplicas: config.MAX_WORKERS,
      scaleDownCooldownMs: config.SCALE_DOWN_COOLDOWN_MS,
    },
    intervalMs: config.AUTOSCALER_INTERVAL_MS,
    logger,
  });
  autoscaler.start();
  lifecycle.register('autoscaler', () => autoscaler.stop());

  // Probes: alive while the process runs; ready while ticks keep succeeding.
  const health = await startHealthServer({
    host: config.HOST,
    port: config.PORT,
    ready: () =>
      Date.now() - autoscaler.lastSuccessAt < config.AUTOSCALER_INTERVAL_MS * 3 &&
      !lifecycle.shuttingDown,
  });
  lifecycle.register('health', health.close);
  logger.info(
    {
      namespace: config.AUTOSCALER_NAMESPACE,
      deployment: config.AUTOSCALER_DEPLOYMENT,
      target: config.TARGET_BACKLOG_PER_WORKER,
      min: config.MIN_WORKERS,
      max: config.MAX_WORKERS,
    },
    'autoscaler started',
  );
  return { autoscaler, health };
}
