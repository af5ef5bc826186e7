import { type AppsV1Api, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';

import type { ScaleTarget } from './loop.ts';

/**
 * The worker Deployment's `scale` subresource through @kubernetes/client-node: a GET and a JSON
 * merge patch of spec.replicas, which is all the autoscaler's RBAC Role allows.
 */
export function k8sScaleTarget(api: AppsV1Api, namespace: string, name: string): ScaleTarget {
  return {
    async getReplicas() {
      const scale = await api.readNamespacedDeploymentScale({ name, namespace });
      return scale.spec?.replicas ?? 0;
    },
    async setReplicas(replicas) {
      await api.patchNamespacedDeploymentScale(
        { name, namespace, body: { spec: { replicas } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
    },
  };
}
