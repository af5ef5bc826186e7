/**
 * The monitoring files (k8s/components/monitoring): the alert rules' source, the PrometheusRule
 * and dashboard written from it, and the metric names their queries use. Shared by
 * `npm run monitoring:build`, `npm run monitoring:check`, `npm run metrics:check` and the tests.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { parser } from '@prometheus-io/lezer-promql';
import { format, resolveConfig } from 'prettier';
import { parse, stringify } from 'yaml';

import { buildDashboard, dashboardQueries } from './kvq-dashboard.ts';

export const MONITORING_DIR = fileURLToPath(
  new URL('../k8s/components/monitoring/', import.meta.url),
);
export const RULES_FILE = join(MONITORING_DIR, 'kvq-alerts.rules.yaml');
export const RULES_TEST_FILE = join(MONITORING_DIR, 'kvq-alerts.test.yaml');
export const PROMETHEUS_RULE_FILE = join(MONITORING_DIR, 'prometheus-rule.yaml');
export const DASHBOARD_FILE = join(MONITORING_DIR, 'kvq-dashboard.json');

/**
 * Series Prometheus makes itself for every target, never in a scrape (`up` says whether the
 * scrape of a target worked).
 */
const SYNTHETIC = new Set(['up', 'scrape_duration_seconds', 'scrape_samples_scraped']);

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
}
interface RuleFile {
  groups: { name: string; rules: Rule[] }[];
}

export function readRules(): RuleFile {
  return parse(readFileSync(RULES_FILE, 'utf8')) as RuleFile;
}

/** Each alert's name and expression. */
export function alertExpressions(): { name: string; expr: string }[] {
  return readRules().groups.flatMap((g) =>
    g.rules.flatMap((r) => (r.alert ? [{ name: r.alert, expr: r.expr }] : [])),
  );
}

/** Every dashboard query, with Grafana's variables replaced so that it is plain PromQL. */
export function dashboardPromql(): string[] {
  return dashboardQueries().map((q) =>
    q.replaceAll('$__rate_interval', '5m').replaceAll('$namespace', 'kvq'),
  );
}

/**
 * The metric names a PromQL expression selects (`name{...}`), from its syntax tree. Throws on a
 * parse error, or on a selector without a name (`{__name__=~...}`), which no check could follow.
 */
export function metricNames(expr: string): string[] {
  const names = new Set<string>();
  const problems: string[] = [];
  parser.parse(expr).iterate({
    enter: (node) => {
      if (node.type.isError) problems.push(`parse error at ${String(node.from)}`);
      if (node.name === 'VectorSelector') {
        const id = node.node.getChild('Identifier');
        if (id) names.add(expr.slice(id.from, id.to));
        else problems.push(`a selector without a metric name at ${String(node.from)}`);
      }
    },
  });
  if (problems.length > 0) throw new Error(`${problems.join('; ')} in: ${expr}`);
  return [...names];
}

/** The sample names in a Prometheus text-format scrape. */
export function scrapedNames(scrape: string): Set<string> {
  const names = new Set<string>();
  for (const line of scrape.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)[{ ]/.exec(line);
    if (m?.[1]) names.add(m[1]);
  }
  return names;
}

/** "where: metric" for every metric an alert or a dashboard query uses that `scrape` lacks. */
export function missingFromScrape(scrape: string): string[] {
  const have = scrapedNames(scrape);
  const used = [
    ...alertExpressions().map((a) => ({ where: `alert ${a.name}`, expr: a.expr })),
    ...dashboardPromql().map((expr, i) => ({ where: `dashboard query ${String(i + 1)}`, expr })),
  ];
  return used.flatMap(({ where, expr }) =>
    metricNames(expr)
      .filter((n) => !have.has(n) && !SYNTHETIC.has(n))
      .map((n) => `${where}: ${n}`),
  );
}

/** The PrometheusRule for the Prometheus Operator, holding exactly the rule file's groups. */
export async function renderPrometheusRule(): Promise<string> {
  const rule = {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    metadata: {
      name: 'kvq',
      namespace: 'kvq',
      labels: { 'app.kubernetes.io/name': 'kvq', release: 'kube-prometheus-stack' },
    },
    spec: readRules(),
  };
  return pretty(
    PROMETHEUS_RULE_FILE,
    '# Written by `npm run monitoring:build` from kvq-alerts.rules.yaml: edit that file, not this one.\n' +
      stringify(rule, { lineWidth: 0 }),
  );
}

export function renderDashboard(): Promise<string> {
  return pretty(DASHBOARD_FILE, JSON.stringify(buildDashboard()));
}

/** As `npm run format` would write it, so that the format check holds for the written files. */
async function pretty(file: string, text: string): Promise<string> {
  return format(text, { ...(await resolveConfig(file)), filepath: file });
}
