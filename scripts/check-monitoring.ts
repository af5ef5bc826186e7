/**
 * `npm run monitoring:check` (promtool from Debian's `prometheus` package): the alert rules pass
 * `promtool check rules` and their unit tests `promtool test rules`; every alert has a test where
 * it fires and one where it stays quiet; every dashboard query parses (each wrapped as a recording
 * rule for `promtool check rules`); the PrometheusRule and the dashboard JSON are what
 * `npm run monitoring:build` writes. That the metrics they name exist is `npm run metrics:check`'s
 * part (it has a real scrape). Exit 1 on any problem.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { parse, stringify } from 'yaml';

import {
  alertExpressions,
  DASHBOARD_FILE,
  dashboardPromql,
  metricNames,
  MONITORING_DIR,
  PROMETHEUS_RULE_FILE,
  renderDashboard,
  renderPrometheusRule,
  RULES_FILE,
  RULES_TEST_FILE,
} from './monitoring.ts';

const problems: string[] = [];
if (spawnSync('promtool', ['--version']).status !== 0) {
  console.error('promtool not found: install it (Debian: apt-get install prometheus)');
  process.exit(1);
}
function promtool(args: string[], what: string): void {
  const r = spawnSync('promtool', args, { cwd: MONITORING_DIR, encoding: 'utf8' });
  if (r.status === 0) console.log(`${what}: ok`);
  else problems.push(`${what}:\n${r.stdout}${r.stderr}`);
}

promtool(['check', 'rules', RULES_FILE], 'promtool check rules');
promtool(['test', 'rules', RULES_TEST_FILE], 'promtool test rules');

interface RuleTests {
  tests: { alert_rule_test?: { alertname: string; exp_alerts?: unknown[] }[] }[];
}
const tests = (parse(readFileSync(RULES_TEST_FILE, 'utf8')) as RuleTests).tests.flatMap(
  (t) => t.alert_rule_test ?? [],
);
for (const { name } of alertExpressions()) {
  const mine = tests.filter((t) => t.alertname === name);
  if (!mine.some((t) => (t.exp_alerts ?? []).length > 0))
    problems.push(`alert ${name}: no test where it fires`);
  if (!mine.some((t) => (t.exp_alerts ?? []).length === 0))
    problems.push(`alert ${name}: no test where it stays quiet`);
}

const dir = mkdtempSync(join(tmpdir(), 'kvq-dashboard-'));
try {
  const queries = dashboardPromql();
  const file = join(dir, 'dashboard-queries.yaml');
  writeFileSync(
    file,
    stringify({
      groups: [
        {
          name: 'dashboard',
          rules: queries.map((expr, i) => ({ record: `kvq:dashboard_query_${String(i)}`, expr })),
        },
      ],
    }),
  );
  promtool(['check', 'rules', file], `dashboard: ${String(queries.length)} queries parse`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
for (const expr of [...alertExpressions().map((a) => a.expr), ...dashboardPromql()]) {
  try {
    metricNames(expr);
  } catch (err) {
    problems.push((err as Error).message);
  }
}

if (readFileSync(PROMETHEUS_RULE_FILE, 'utf8') !== (await renderPrometheusRule()))
  problems.push(`${PROMETHEUS_RULE_FILE} is stale: run npm run monitoring:build`);
if (readFileSync(DASHBOARD_FILE, 'utf8') !== (await renderDashboard()))
  problems.push(`${DASHBOARD_FILE} is stale: run npm run monitoring:build`);

for (const p of problems) console.error(`monitoring check: ${p}`);
if (problems.length === 0) console.log('monitoring check: ok');
process.exit(problems.length === 0 ? 0 : 1);
