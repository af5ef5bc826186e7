import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';

import {
  type K8sObject,
  render,
  scalerProblems,
  schemaProblems,
} from '../../scripts/k8s-checks.ts';
import { typedCheck } from './typed-check.ts';

/**
 * The API's CPU HorizontalPodAutoscaler needs metrics-server, so it is a component that deploy.sh
 * adds only where the metrics API is served; the workers scale on the queue backlog in every
 * overlay. And the kind config publishes the local overlay's NodePort on loopback.
 */
const root = fileURLToPath(new URL('../../', import.meta.url));
let work: string;
const rendered: Record<string, K8sObject[]> = {};

type Obj = K8sObject & { spec?: any; data?: Record<string, string> };

beforeAll(() => {
  // A scratch copy of k8s/ with placeholder secrets, and a kustomization like deploy.sh's.
  work = mkdtempSync(join(tmpdir(), 'kvq-hpa-'));
  cpSync(join(root, 'k8s'), join(work, 'k8s'), {
    recursive: true,
    filter: (p) => !p.endsWith('secrets.env') && !p.includes('/.deploy'),
  });
  writeFileSync(
    join(work, 'k8s/overlays/local/secrets.env'),
    'QUEUE_REDIS_PASSWORD=t\nKV_REDIS_PASSWORD=t\nAPI_TOKEN=t\nSENTINEL_PASSWORD=t\n',
  );
  for (const overlay of ['local', 'keda', 'sentinel', 'cluster']) {
    rendered[overlay] = render(join(work, 'k8s/overlays', overlay));
    const dir = join(work, 'k8s', `.deploy-${overlay}`);
    mkdirSync(dir);
    writeFileSync(
      join(dir, 'kustomization.yaml'),
      `resources:\n  - ../overlays/${overlay}\ncomponents:\n  - ../components/api-cpu-hpa\n`,
    );
    rendered[`${overlay}+hpa`] = render(dir);
  }
});
afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

const hpas = (objs: K8sObject[]) => objs.filter((o) => o.kind === 'HorizontalPodAutoscaler');

describe.each(['local', 'keda', 'sentinel', 'cluster'])('overlays/%s', (overlay) => {
  it('has no HPA of its own: nothing that needs metrics-server', () => {
    expect(hpas(rendered[overlay]!)).toEqual([]);
  });

  it('scales the workers on the queue backlog (kvq-autoscaler or KEDA), never through an HPA', () => {
    const objs = rendered[overlay] as Obj[];
    const autoscaler = objs.find(
      (o) => o.kind === 'Deployment' && o.metadata.name === 'kvq-autoscaler',
    );
    const cm = objs.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'kvq-config')!;
    if (overlay === 'keda') {
      expect(autoscaler).toBeUndefined();
      const so = objs.find((o) => o.kind === 'ScaledObject')!;
      expect(so.spec.scaleTargetRef.name).toBe('kvq-worker');
    } else {
      expect(autoscaler?.spec.template.spec.containers[0].args).toEqual(['autoscaler']);
      expect(cm.data!.AUTOSCALER_DEPLOYMENT).toBe('kvq-worker');
    }
    expect(scalerProblems(objs)).toEqual([]);
  });

  it('with the api-cpu-hpa component: one valid HPA on kvq-api, in namespace kvq, no Deployment scaled twice', () => {
    const objs = rendered[`${overlay}+hpa`]!;
    const [hpa, ...more] = hpas(objs) as Obj[];
    expect(more).toEqual([]);
    expect(hpa!.metadata.namespace).toBe('kvq');
    expect(hpa!.spec.scaleTargetRef).toEqual({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      name: 'kvq-api',
    });
    expect(hpa!.spec.minReplicas).toBeGreaterThanOrEqual(2);
    expect(schemaProblems(objs)).toEqual([]);
    expect(scalerProblems(objs)).toEqual([]);
    // Everything else is the overlay unchanged.
    expect(objs.filter((o) => o.kind !== 'HorizontalPodAutoscaler')).toEqual(rendered[overlay]);
  });
});

it('the HPA has no unknown fields (typed with kubernetes-types)', () => {
  expect(typedCheck(hpas(rendered['local+hpa']!), 'api-cpu-hpa')).toBe('');
}, 120_000);

it('scalerProblems finds a Deployment with two scalers and a scaler with no target', () => {
  const objs = structuredClone(rendered['local+hpa']!) as Obj[];
  const hpa = hpas(objs)[0] as Obj;
  hpa.spec.scaleTargetRef.name = 'kvq-worker';
  expect(scalerProblems(objs)).toEqual([
    'Deployment/kvq-worker is scaled by HorizontalPodAutoscaler/kvq-api and Deployment/kvq-autoscaler',
  ]);
  hpa.spec.scaleTargetRef.name = 'kvq-gone';
  expect(scalerProblems(objs)).toEqual([
    'HorizontalPodAutoscaler/kvq-api: targets no Deployment named kvq-gone',
  ]);
});

it('the kind config publishes the local overlay NodePort of kvq-api on 127.0.0.1 only', () => {
  const config = parse(readFileSync(join(root, 'k8s/kind-config.yaml'), 'utf8')) as {
    kind: string;
    apiVersion: string;
    nodes: {
      role: string;
      extraPortMappings?: {
        containerPort: number;
        hostPort: number;
        listenAddress?: string;
        protocol?: string;
      }[];
    }[];
  };
  expect(config.kind).toBe('Cluster');
  expect(config.apiVersion).toBe('kind.x-k8s.io/v1alpha4');
  const svc = (rendered.local as Obj[]).find(
    (o) => o.kind === 'Service' && o.metadata.name === 'kvq-api',
  )!;
  expect(svc.spec.type).toBe('NodePort');
  const nodePort: number = svc.spec.ports[0].nodePort;
  const controlPlane = config.nodes.find((n) => n.role === 'control-plane')!;
  expect(controlPlane.extraPortMappings).toEqual([
    { containerPort: nodePort, hostPort: nodePort, listenAddress: '127.0.0.1', protocol: 'TCP' },
  ]);
  // deploy.sh cluster creates the cluster from this file.
  expect(readFileSync(join(root, 'deploy.sh'), 'utf8')).toContain(
    '--config "$ROOT/k8s/kind-config.yaml"',
  );
});
