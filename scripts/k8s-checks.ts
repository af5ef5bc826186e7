/**
 * Offline checks of rendered Kubernetes manifests (no API server here): schema validation with
 * kubernetes-models, a deny-list of removed apiVersions, and that no Deployment has two scalers.
 * Used by test/k8s and by `deploy.sh --dry-run` (through scripts/validate-k8s.ts).
 */
import { execFileSync } from 'node:child_process';

import * as monitoring from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import * as apps from 'kubernetes-models/apps/v1';
import * as autoscaling from 'kubernetes-models/autoscaling/v2';
import * as batch from 'kubernetes-models/batch/v1';
import * as networking from 'kubernetes-models/networking.k8s.io/v1';
import * as policy from 'kubernetes-models/policy/v1';
import * as rbac from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import * as core from 'kubernetes-models/v1';
import { parseAllDocuments } from 'yaml';

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [k: string]: unknown;
}

export function render(overlay: string): K8sObject[] {
  const text = execFileSync('kubectl', ['kustomize', overlay], { encoding: 'utf8' });
  return parseObjects(text);
}

export function parseObjects(text: string): K8sObject[] {
  return parseAllDocuments(text)
    .map((d) => d.toJS() as K8sObject | null)
    .filter((o): o is K8sObject => o !== null);
}

/** apiVersions removed from Kubernetes (1.16-1.29): a manifest using one would not apply. */
export const REMOVED_API_VERSIONS = new Set([
  'extensions/v1beta1',
  'apps/v1beta1',
  'apps/v1beta2',
  'policy/v1beta1',
  'autoscaling/v2beta1',
  'autoscaling/v2beta2',
  'batch/v1beta1',
  'networking.k8s.io/v1beta1',
  'rbac.authorization.k8s.io/v1beta1',
  'flowcontrol.apiserver.k8s.io/v1beta2',
]);

type Model = new (o: unknown) => { validate(): void };
const MODELS: Record<string, Model> = {
  'v1/Namespace': core.Namespace as Model,
  'v1/ConfigMap': core.ConfigMap as Model,
  'v1/Secret': core.Secret as Model,
  'v1/Service': core.Service as Model,
  'v1/ServiceAccount': core.ServiceAccount as Model,
  'apps/v1/Deployment': apps.Deployment as Model,
  'apps/v1/StatefulSet': apps.StatefulSet as Model,
  'batch/v1/Job': batch.Job as Model,
  'policy/v1/PodDisruptionBudget': policy.PodDisruptionBudget as Model,
  'autoscaling/v2/HorizontalPodAutoscaler': autoscaling.HorizontalPodAutoscaler as Model,
  'networking.k8s.io/v1/NetworkPolicy': networking.NetworkPolicy as Model,
  'rbac.authorization.k8s.io/v1/Role': rbac.Role as Model,
  'rbac.authorization.k8s.io/v1/RoleBinding': rbac.RoleBinding as Model,
  // Prometheus Operator CRDs (k8s/components/monitoring), from the operator's own schemas.
  'monitoring.coreos.com/v1/ServiceMonitor': monitoring.ServiceMonitor as Model,
  'monitoring.coreos.com/v1/PrometheusRule': monitoring.PrometheusRule as Model,
};
/** CRDs with no model here; their shape is checked by the typed check in test/k8s. */
const CRDS = new Set(['keda.sh/v1alpha1/ScaledObject', 'keda.sh/v1alpha1/TriggerAuthentication']);

/** Schema problems, one line each (empty = valid). */
export function schemaProblems(objects: K8sObject[]): string[] {
  const problems: string[] = [];
  for (const o of objects) {
    const id = `${o.kind}/${o.metadata.name}`;
    if (REMOVED_API_VERSIONS.has(o.apiVersion))
      problems.push(`${id}: removed apiVersion ${o.apiVersion}`);
    const key = `${o.apiVersion}/${o.kind}`;
    const M = MODELS[key];
    if (!M) {
      if (!CRDS.has(key)) problems.push(`${id}: no schema known for ${key}`);
      continue;
    }
    try {
      new M(o).validate();
    } catch (err) {
      problems.push(`${id}: ${(err as Error).message.split('\n').slice(0, 5).join(' ')}`);
    }
  }
  return problems;
}

/**
 * Scaler problems, one line each (empty = none): every HorizontalPodAutoscaler and ScaledObject
 * targets an existing Deployment, and no Deployment has two scalers (an HPA, a ScaledObject, or
 * kvq-autoscaler through the ConfigMap's AUTOSCALER_DEPLOYMENT) fighting over its replicas.
 */
export function scalerProblems(objects: K8sObject[]): string[] {
  const problems: string[] = [];
  const deployments = new Set(
    objects.filter((o) => o.kind === 'Deployment').map((o) => o.metadata.name),
  );
  const scalers = new Map<string, string[]>();
  const add = (target: string, by: string) => {
    if (!deployments.has(target)) problems.push(`${by}: targets no Deployment named ${target}`);
    scalers.set(target, [...(scalers.get(target) ?? []), by]);
  };
  for (const o of objects) {
    if (o.kind !== 'HorizontalPodAutoscaler' && o.kind !== 'ScaledObject') continue;
    const ref = (o.spec as { scaleTargetRef?: { kind?: string; name?: string } } | undefined)
      ?.scaleTargetRef;
    if ((ref?.kind ?? 'Deployment') !== 'Deployment' || !ref?.name) {
      problems.push(`${o.kind}/${o.metadata.name}: scaleTargetRef names no Deployment`);
      continue;
    }
    add(ref.name, `${o.kind}/${o.metadata.name}`);
  }
  if (deployments.has('kvq-autoscaler')) {
    const cm = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'kvq-config');
    const target = (cm?.data as Record<string, string> | undefined)?.AUTOSCALER_DEPLOYMENT;
    if (target) add(target, 'Deployment/kvq-autoscaler');
    else problems.push('Deployment/kvq-autoscaler: kvq-config has no AUTOSCALER_DEPLOYMENT');
  }
  for (const [target, by] of scalers)
    if (by.length > 1) problems.push(`Deployment/${target} is scaled by ${by.join(' and ')}`);
  return problems;
}
