/**
 * `npm run monitoring:build`: writes k8s/components/monitoring/prometheus-rule.yaml (from
 * kvq-alerts.rules.yaml) and kvq-dashboard.json (from scripts/kvq-dashboard.ts).
 * `npm run monitoring:check` fails while either is stale.
 */
import { writeFileSync } from 'node:fs';

import {
  DASHBOARD_FILE,
  PROMETHEUS_RULE_FILE,
  renderDashboard,
  renderPrometheusRule,
} from './monitoring.ts';

writeFileSync(PROMETHEUS_RULE_FILE, await renderPrometheusRule());
writeFileSync(DASHBOARD_FILE, await renderDashboard());
console.log(`wrote ${PROMETHEUS_RULE_FILE} and ${DASHBOARD_FILE}`);
