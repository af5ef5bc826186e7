import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';

import { type K8sObject, render, schemaProblems } from '../../scripts/k8s-checks.ts';
import {
  DASHBOARD_FILE,
  readRules,
  renderDashboard,
  renderPrometheusRule,
  RULES_TEST_FILE,
} from '../../scripts/monitoring.ts';
import { typedCheck } from './typed-check.ts';

/**
 * k8s/components/monitoring on every overlay, as deploy.sh adds it: valid against the Prometheus
 * Operator's schemas; every kvq Deployment's metrics port is a ServiceMonitor target and admitted
 * by a NetworkPolicy from the monitoring namespace; exactly one role reads the queue into metrics;
 * the PrometheusRule holds the rule file's groups, and the dashboard ConfigMap the dashboard.
 */
const root = fileURLToPath(new URL('../../', import.meta.url));
const OVERLAYS = ['local', 'keda', 'sentinel', 'cluster'];
let work: string;
const rendered: Record<string, Obj[]> = {};

type Obj = K8sObject & { spec?: any; data?: Record<string, string> };

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'kvq-monitoring-'));
  cpSync(join(root, 'k8s'), join(work, 'k8s'), {
    recursive: true,
    filter: (p) => !p.endsWith('secrets.env') && !p.includes('/.deploy'),
  });
  writeFileSync(
    join(work, 'k8s/overlays/local/secrets.env'),
    'QUEUE_REDIS_PASSWORD=t\nKV_REDIS_PASSWORD=t\nAPI_TOKEN=t\nSENTINEL_PASSWORD=t\n',
  );
  for (const overlay of OVERLAYS) {
    const dir = join(work, 'k8s', `.deploy-${overlay}`);
    mkdirSync(dir);
    writeFileSync(
      join(dir, 'kustomization.yaml'),
      `resources:\n  - ../overlays/${overlay}\ncomponents:\n  - ../components/monitoring\n`,
    );
    rendered[overlay] = render(dir);
  }
});
afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

const of = (objs: Obj[], kind: string) => objs.filter((o) => o.kind === kind);
const matches = (selector: Record<string, string>, labels: Record<string, string> = {}) =>
  Object.entries(selector).every(([k, v]) => labels[k] === v);
const containers = (d: Obj) =>
  (d.spec.template.spec.containers ?? []) as {
    ports?: { name?: string; containerPort: number }[];
    env?: { name: string; value?: string }[];
  }[];

describe.each(OVERLAYS)('overlays/%s with the monitoring component', (overlay) => {
  it('is valid: schemas (Prometheus Operator CRDs included) and no unknown fields', () => {
    const objs = rendered[overlay]!;
    expect(schemaProblems(objs)).toEqual([]);
    expect(typedCheck(objs, `monitoring-${overlay}`)).toBe('');
    // Namespaced like the rest, although deploy.sh's kustomization sets no namespace.
    for (const o of objs.filter((x) => x.kind !== 'Namespace')) {
      expect(o.metadata.namespace, `${o.kind}/${o.metadata.name}`).toBe('kvq');
    }
  });

  it('scrapes the metrics port of every kvq Deployment, and a NetworkPolicy admits it', () => {
    const objs = rendered[overlay]!;
    const services = of(objs, 'Service');
    const monitors = of(objs, 'ServiceMonitor');
    const policies = of(objs, 'NetworkPolicy');
    const deployments = of(objs, 'Deployment');
    expect(deployments.length).toBeGreaterThanOrEqual(2);
    for (const d of deployments) {
      const podLabels = d.spec.template.metadata.labels as Record<string, string>;
      const port = containers(d)
        .flatMap((c) => c.ports ?? [])
        .find((p) => p.name === 'metrics');
      expect(port, `${d.metadata.name} names a metrics port`).toBeDefined();
      // A Service selecting these pods on that port, which a ServiceMonitor selects.
      const svc = services.find(
        (s) =>
          s.spec.selector &&
          matches(s.spec.selector, podLabels) &&
          (s.spec.ports as { name: string; targetPort: string }[]).some(
            (p) => p.name === 'metrics' && p.targetPort === 'metrics',
          ),
      );
      expect(svc, `a metrics Service for ${d.metadata.name}`).toBeDefined();
      const sm = monitors.find(
        (m) =>
          matches(m.spec.selector.matchLabels, svc!.metadata.labels) &&
          (m.spec.endpoints as { port: string }[]).some((e) => e.port === 'metrics'),
      );
      expect(sm, `a ServiceMonitor for ${svc!.metadata.name}`).toBeDefined();
      expect(sm!.spec.jobLabel).toBe('app.kubernetes.io/name');
      expect(svc!.metadata.labels?.['app.kubernetes.io/name']).toBe(d.metadata.name);
      // Ingress to that port from the monitoring namespace.
      const admitted = policies.some((p) => {
        const sel = p.spec.podSelector;
        const selects =
          (sel.matchLabels && matches(sel.matchLabels, podLabels)) ||
          (
            sel.matchExpressions as
              { key: string; operator: string; values: string[] }[] | undefined
          )?.every((e) => e.operator === 'In' && e.values.includes(podLabels[e.key] ?? ''));
        return (
          selects &&
          (p.spec.ingress as { from?: any[]; ports?: { port: number }[] }[] | undefined)?.some(
            (rule) =>
              rule.ports?.some((pp) => pp.port === port!.containerPort) &&
              rule.from?.some(
                (f) =>
                  f.namespaceSelector?.matchLabels?.['kubernetes.io/metadata.name'] ===
                  'monitoring',
              ),
          )
        );
      });
      expect(admitted, `${d.metadata.name}: metrics port admitted from monitoring`).toBe(true);
    }
  });

  it('has exactly one role reading the queue into metrics', () => {
    const objs = rendered[overlay]!;
    const readers = of(objs, 'Deployment').filter((d) =>
      containers(d).some((c) =>
        c.env?.some((e) => e.name === 'QUEUE_METRICS' && e.value === 'true'),
      ),
    );
    expect(readers.map((d) => d.metadata.name)).toEqual([
      overlay === 'keda' ? 'kvq-api' : 'kvq-autoscaler',
    ]);
    const cm = objs.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'kvq-config')!;
    expect(cm.data?.QUEUE_METRICS).toBeUndefined();
  });

  it('ships the alerts as a PrometheusRule and the dashboard for the Grafana sidecar', () => {
    const objs = rendered[overlay]!;
    const [rule] = of(objs, 'PrometheusRule');
    expect(rule!.spec).toEqual(readRules());
    const cm = objs.find(
      (o) => o.kind === 'ConfigMap' && o.metadata.name === 'kvq-grafana-dashboard',
    )!;
    expect(cm.metadata.labels?.grafana_dashboard).toBe('1');
    const dashboard = JSON.parse(cm.data?.['kvq-dashboard.json'] ?? '{}') as {
      uid: string;
      panels: unknown[];
    };
    expect(dashboard.uid).toBe('kvq-overview');
    expect(dashboard.panels.length).toBeGreaterThan(10);
  });
});

describe('the monitoring sources', () => {
  it('are what npm run monitoring:build writes', async () => {
    const component = join(root, 'k8s/components/monitoring');
    expect(readFileSync(join(component, 'prometheus-rule.yaml'), 'utf8')).toBe(
      await renderPrometheusRule(),
    );
    expect(readFileSync(DASHBOARD_FILE, 'utf8')).toBe(await renderDashboard());
  });

  it('test every alert firing and staying quiet', () => {
    const tests = (
      parse(readFileSync(RULES_TEST_FILE, 'utf8')) as {
        tests: { alert_rule_test: { alertname: string; exp_alerts: unknown[] }[] }[];
      }
    ).tests.flatMap((t) => t.alert_rule_test);
    const alerts = readRules().groups.flatMap((g) => g.rules.map((r) => r.alert));
    expect(alerts.length).toBeGreaterThanOrEqual(10);
    for (const a of alerts) {
      expect(
        tests.some((t) => t.alertname === a && t.exp_alerts.length > 0),
        `${String(a)} fires`,
      ).toBe(true);
      expect(
        tests.some((t) => t.alertname === a && t.exp_alerts.length === 0),
        `${String(a)} quiet`,
      ).toBe(true);
    }
  });

  const promtool = spawnSync('promtool', ['--version']).status === 0;
  it.skipIf(!promtool)('pass promtool test rules', () => {
    const r = spawnSync('promtool', ['test', 'rules', RULES_TEST_FILE], { encoding: 'utf8' });
    expect(`${r.stdout}${r.stderr}`).toContain('SUCCESS');
    expect(r.status).toBe(0);
  });
});
