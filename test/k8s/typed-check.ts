import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import type { K8sObject } from '../../scripts/k8s-checks.ts';

/**
 * Unknown-field detection: each rendered object becomes an object literal typed with
 * kubernetes-types, and tsc's excess-property check rejects any field Kubernetes does not define
 * (a typo such as `resource:` that schema validation lets through). KEDA's two CRDs get exact
 * local types; the Prometheus Operator's come with their models.
 */
const CRD_TYPES: Record<string, string> = {
  'monitoring.coreos.com/v1/ServiceMonitor': 'IServiceMonitor',
  'monitoring.coreos.com/v1/PrometheusRule': 'IPrometheusRule',
};
const TYPES: Record<string, [string, string]> = {
  'v1/Namespace': ['core/v1', 'Namespace'],
  'v1/ConfigMap': ['core/v1', 'ConfigMap'],
  'v1/Secret': ['core/v1', 'Secret'],
  'v1/Service': ['core/v1', 'Service'],
  'v1/ServiceAccount': ['core/v1', 'ServiceAccount'],
  'apps/v1/Deployment': ['apps/v1', 'Deployment'],
  'apps/v1/StatefulSet': ['apps/v1', 'StatefulSet'],
  'batch/v1/Job': ['batch/v1', 'Job'],
  'policy/v1/PodDisruptionBudget': ['policy/v1', 'PodDisruptionBudget'],
  'autoscaling/v2/HorizontalPodAutoscaler': ['autoscaling/v2', 'HorizontalPodAutoscaler'],
  'networking.k8s.io/v1/NetworkPolicy': ['networking/v1', 'NetworkPolicy'],
  'rbac.authorization.k8s.io/v1/Role': ['rbac/v1', 'Role'],
  'rbac.authorization.k8s.io/v1/RoleBinding': ['rbac/v1', 'RoleBinding'],
};

const KEDA = `
import type { ObjectMeta } from 'kubernetes-types/meta/v1';
interface ScaledObject {
  apiVersion: 'keda.sh/v1alpha1';
  kind: 'ScaledObject';
  metadata: ObjectMeta;
  spec: {
    scaleTargetRef: { apiVersion?: string; kind?: string; name: string };
    minReplicaCount?: number;
    maxReplicaCount?: number;
    pollingInterval?: number;
    cooldownPeriod?: number;
    triggers: { type: string; metadata: Record<string, string>; authenticationRef?: { name: string } }[];
  };
}
interface TriggerAuthentication {
  apiVersion: 'keda.sh/v1alpha1';
  kind: 'TriggerAuthentication';
  metadata: ObjectMeta;
  spec: { secretTargetRef: { parameter: string; name: string; key: string }[] };
}
`;

/** Returns tsc's complaints (empty when every object type-checks). */
export function typedCheck(objects: K8sObject[], name: string): string {
  const root = fileURLToPath(new URL('../../', import.meta.url));
  const dir = join(root, 'node_modules', '.cache', 'kvq-k8s-typecheck');
  mkdirSync(dir, { recursive: true });
  const imports = new Set<string>();
  const lines: string[] = [];
  objects.forEach((o, i) => {
    const key = `${o.apiVersion}/${o.kind}`;
    const t = TYPES[key];
    let typeName: string;
    if (t) {
      typeName = `${t[1]}_${t[0].replace(/\W/g, '_')}`;
      imports.add(`import type { ${t[1]} as ${typeName} } from 'kubernetes-types/${t[0]}';`);
    } else if (CRD_TYPES[key]) {
      typeName = CRD_TYPES[key];
      imports.add(
        `import type { ${typeName} } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';`,
      );
    } else if (
      key === 'keda.sh/v1alpha1/ScaledObject' ||
      key === 'keda.sh/v1alpha1/TriggerAuthentication'
    ) {
      typeName = o.kind;
    } else {
      throw new Error(`no type for ${key}`);
    }
    lines.push(
      `// ${o.kind}/${o.metadata.name}\nexport const o${String(i)}: ${typeName} = ${JSON.stringify(o, null, 2)};`,
    );
  });
  const file = join(dir, `${name}.ts`);
  writeFileSync(file, `${[...imports].join('\n')}\n${KEDA}\n${lines.join('\n')}\n`);
  // tsc refuses a file argument while a tsconfig.json is in scope: give the file its own project.
  writeFileSync(
    join(dir, `tsconfig.${name}.json`),
    JSON.stringify({
      compilerOptions: {
        noEmit: true,
        strict: true,
        skipLibCheck: true,
        module: 'esnext',
        moduleResolution: 'bundler',
        types: [],
      },
      files: [file],
    }),
  );
  // tsc once hung here at start-up (main thread parked on a futex after 0.3 s of CPU, CI idle):
  // so the run has a deadline, no compile cache (tsc turns Node's on, shared by parallel runs),
  // no inherited stdin, and one retry if it is killed.
  const run = () =>
    execFileSync(
      process.execPath,
      [
        join(root, 'node_modules', 'typescript', 'bin', 'tsc'),
        '-p',
        join(dir, `tsconfig.${name}.json`),
      ],
      {
        encoding: 'utf8',
        cwd: root,
        stdio: ['ignore', 'pipe', 'pipe'],
        timeout: 45_000,
        killSignal: 'SIGKILL',
        env: { ...process.env, NODE_DISABLE_COMPILE_CACHE: '1' },
      },
    );
  try {
    try {
      run();
    } catch (err) {
      if ((err as { signal?: string }).signal !== 'SIGKILL') throw err;
      run();
    }
    return '';
  } catch (err) {
    return String((err as { stdout?: string }).stdout ?? err);
  }
}
