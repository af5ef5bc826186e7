/**
 * The Grafana dashboard, as data: `npm run monitoring:build` writes it to
 * k8s/components/monitoring/kvq-dashboard.json (a ConfigMap for the kube-prometheus-stack
 * sidecar); `npm run monitoring:check` parses every query with promtool and `npm run
 * metrics:check` holds every metric it names to a real scrape.
 */

/** `$ns`: the namespace variable's matcher, spliced into every selector. */
const NS = 'namespace="$namespace"';
const RATE = '$__rate_interval';

interface Target {
  expr: string;
  legend: string;
}
interface PanelSpec {
  title: string;
  description: string;
  unit: string;
  targets: Target[];
  /** stat: one big number; default timeseries. */
  kind?: 'stat' | 'timeseries';
  width?: number;
}
interface RowSpec {
  title: string;
  panels: PanelSpec[];
}

const rate = (metric: string, matchers = '') =>
  `rate(${metric}{${[NS, matchers].filter(Boolean).join(', ')}}[${RATE}])`;
const quantile = (q: number, metric: string, by: string, matchers = '') =>
  `histogram_quantile(${String(q)}, sum by (${['le', by].filter(Boolean).join(', ')}) (${rate(`${metric}_bucket`, matchers)}))`;

export const ROWS: RowSpec[] = [
  {
    title: 'Golden signals (API)',
    panels: [
      {
        title: 'Requests by route',
        description: 'Answered HTTP requests a second, by route template (both transports).',
        unit: 'reqps',
        targets: [
          { expr: `sum by (route) (${rate('kvq_http_requests_total')})`, legend: '{{route}}' },
        ],
      },
      {
        title: 'Errors: 5xx share, and 4xx by status',
        description:
          'Share of answers that are 5xx (alert KvqHigh5xxRatio at 5 %), and 4xx a second.',
        unit: 'percentunit',
        targets: [
          {
            expr: `sum(${rate('kvq_http_requests_total', 'status=~"5.."')}) / sum(${rate('kvq_http_requests_total')})`,
            legend: '5xx share',
          },
          {
            expr: `sum by (status) (${rate('kvq_http_requests_total', 'status=~"4.."')})`,
            legend: '{{status}} /s',
          },
        ],
      },
      {
        title: 'Latency p50 / p99 by route',
        description:
          'Request durations; writes with Prefer: wait include their apply (alert KvqHighLatencyP99 looks at reads and 202s).',
        unit: 's',
        targets: [
          {
            expr: quantile(0.99, 'kvq_http_request_duration_seconds', 'route'),
            legend: 'p99 {{route}}',
          },
          {
            expr: quantile(0.5, 'kvq_http_request_duration_seconds', 'route'),
            legend: 'p50 {{route}}',
          },
        ],
      },
      {
        title: 'Saturation: worker slots, CPU, event loop',
        description:
          'Share of worker job slots in use (alert KvqWorkersSaturated), CPU per pod, event loop lag p99.',
        unit: 'percentunit',
        targets: [
          {
            expr: `sum(kvq_worker_jobs_active{${NS}}) / sum(kvq_worker_concurrency{${NS}})`,
            legend: 'worker slots in use',
          },
          {
            expr: `sum by (pod) (${rate('process_cpu_seconds_total')})`,
            legend: 'CPU {{pod}}',
          },
          {
            expr: `max by (pod) (nodejs_eventloop_lag_p99_seconds{${NS}})`,
            legend: 'loop lag {{pod}}',
          },
        ],
      },
    ],
  },
  {
    title: 'Ops',
    panels: [
      {
        title: 'Ops accepted by type',
        description: 'Writes accepted as new ops a second.',
        unit: 'ops',
        targets: [
          { expr: `sum by (type) (${rate('kvq_ops_accepted_total')})`, legend: '{{type}}' },
        ],
      },
      {
        title: 'Ops finished by outcome',
        description: 'Terminal statuses a second (the receipt status, and the failure code).',
        unit: 'ops',
        targets: [
          {
            expr: `sum by (outcome, code) (${rate('kvq_ops_finished_total')})`,
            legend: '{{outcome}} {{code}}',
          },
        ],
      },
      {
        title: 'Accept-to-apply lag',
        description: 'From acceptance to the apply, for applied ops (alert KvqApplyLagHigh).',
        unit: 's',
        targets: [
          { expr: quantile(0.99, 'kvq_op_apply_lag_seconds', ''), legend: 'p99' },
          { expr: quantile(0.5, 'kvq_op_apply_lag_seconds', ''), legend: 'p50' },
        ],
      },
      {
        title: 'Job attempts: duration p99 and retries',
        description: 'One job attempt in a worker, and attempts handed back to BullMQ for a retry.',
        unit: 's',
        targets: [
          { expr: quantile(0.99, 'kvq_job_duration_seconds', ''), legend: 'attempt p99' },
          { expr: `sum(${rate('kvq_job_retries_total')})`, legend: 'retries /s' },
        ],
      },
    ],
  },
  {
    title: 'Queue',
    panels: [
      {
        title: 'Jobs by state',
        description:
          'Summed over partitions, from the QUEUE_METRICS role (alert KvqWorkersSaturated).',
        unit: 'short',
        targets: [
          { expr: `max by (queue, state) (kvq_queue_jobs{${NS}})`, legend: '{{queue}} {{state}}' },
        ],
      },
      {
        title: 'Oldest waiting job',
        description: 'Age of the oldest waiting job (alert KvqQueueNotDraining above 5 min).',
        unit: 's',
        targets: [
          {
            expr: `max by (queue) (kvq_queue_oldest_waiting_job_age_seconds{${NS}})`,
            legend: '{{queue}}',
          },
        ],
      },
      {
        title: 'Dead letters',
        description: 'Ops waiting for a replay or a discard (alert KvqDeadLetters).',
        unit: 'short',
        kind: 'stat',
        targets: [{ expr: `max(kvq_dead_letters{${NS}})`, legend: 'dead letters' }],
      },
      {
        title: 'Queue metrics up',
        description:
          '1 while the QUEUE_METRICS role reads the queue (alert KvqQueueMetricsMissing).',
        unit: 'short',
        kind: 'stat',
        targets: [{ expr: `max(kvq_queue_metrics_up{${NS}})`, legend: 'up' }],
      },
    ],
  },
  {
    title: 'Redis',
    panels: [
      {
        title: 'Redis up',
        description: '1 when some pod reaches that Redis (alert KvqRedisDown).',
        unit: 'short',
        targets: [{ expr: `max by (redis) (kvq_redis_up{${NS}})`, legend: '{{redis}}' }],
      },
      {
        title: 'Redis memory used of maxmemory',
        description:
          'used_memory over maxmemory (alert KvqRedisMemoryHigh at 80 %; writes refused at WRITE_MEMORY_LIMIT_PERCENT).',
        unit: 'percentunit',
        targets: [
          {
            expr: `max by (redis) (kvq_redis_memory_used_bytes{${NS}} / (kvq_redis_maxmemory_bytes{${NS}} > 0))`,
            legend: '{{redis}}',
          },
        ],
      },
      {
        title: 'Redis memory used',
        description: 'used_memory in bytes (on a cluster: the fullest primary).',
        unit: 'bytes',
        targets: [
          { expr: `max by (redis) (kvq_redis_memory_used_bytes{${NS}})`, legend: '{{redis}}' },
        ],
      },
      {
        title: 'Redis ping',
        description: 'Round trip of the last PING, slowest pod.',
        unit: 's',
        targets: [{ expr: `max by (redis) (kvq_redis_ping_seconds{${NS}})`, legend: '{{redis}}' }],
      },
    ],
  },
  {
    title: 'Auth and rate limits',
    panels: [
      {
        title: 'Auth denials by reason',
        description: 'Requests refused by authentication or scope (alert KvqAuthFailureSpike).',
        unit: 'reqps',
        width: 12,
        targets: [
          { expr: `sum by (reason) (${rate('kvq_auth_denials_total')})`, legend: '{{reason}}' },
        ],
      },
      {
        title: 'Rate-limited requests by kind',
        description: 'Requests answered 429, by the limit that refused them (key or address).',
        unit: 'reqps',
        width: 12,
        targets: [
          {
            expr: `sum by (kind) (${rate('kvq_rate_limited_requests_total')})`,
            legend: '{{kind}}',
          },
        ],
      },
    ],
  },
  {
    title: 'Processes',
    panels: [
      {
        title: 'Versions running',
        description: 'Pods by kvq version and role.',
        unit: 'short',
        width: 12,
        targets: [
          {
            expr: `count by (version, role) (kvq_build_info{${NS}})`,
            legend: '{{role}} {{version}}',
          },
        ],
      },
      {
        title: 'Resident memory',
        description: 'Resident set size per pod.',
        unit: 'bytes',
        width: 12,
        targets: [
          { expr: `max by (pod) (process_resident_memory_bytes{${NS}})`, legend: '{{pod}}' },
        ],
      },
    ],
  },
];

/** Every query of the dashboard, in order. */
export function dashboardQueries(): string[] {
  return ROWS.flatMap((r) => r.panels.flatMap((p) => p.targets.map((t) => t.expr)));
}

/** The Grafana dashboard JSON model (schemaVersion 39). */
export function buildDashboard(): Record<string, unknown> {
  const datasource = { type: 'prometheus', uid: '${datasource}' };
  const panels: Record<string, unknown>[] = [];
  let id = 1;
  let y = 0;
  for (const row of ROWS) {
    panels.push({
      id: id++,
      type: 'row',
      title: row.title,
      collapsed: false,
      gridPos: { h: 1, w: 24, x: 0, y },
      panels: [],
    });
    y += 1;
    let x = 0;
    for (const p of row.panels) {
      const w = p.width ?? 6;
      if (x + w > 24) {
        x = 0;
        y += 8;
      }
      panels.push({
        id: id++,
        type: p.kind ?? 'timeseries',
        title: p.title,
        description: p.description,
        datasource,
        gridPos: { h: 8, w, x, y },
        fieldConfig: { defaults: { unit: p.unit }, overrides: [] },
        options:
          p.kind === 'stat'
            ? { reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false } }
            : { legend: { displayMode: 'list', placement: 'bottom', showLegend: true } },
        targets: p.targets.map((t, i) => ({
          datasource,
          expr: t.expr,
          legendFormat: t.legend,
          refId: String.fromCharCode(65 + i),
        })),
      });
      x += w;
    }
    y += 8;
  }
  return {
    uid: 'kvq-overview',
    title: 'kvq',
    description:
      'kvq: golden signals, ops, queue, Redis, auth and rate limits (docs/operations.md).',
    tags: ['kvq'],
    editable: true,
    schemaVersion: 39,
    version: 1,
    time: { from: 'now-3h', to: 'now' },
    refresh: '30s',
    timezone: '',
    templating: {
      list: [
        {
          name: 'datasource',
          label: 'Data source',
          type: 'datasource',
          query: 'prometheus',
          current: {},
        },
        {
          name: 'namespace',
          label: 'Namespace',
          type: 'query',
          datasource,
          query: { query: 'label_values(kvq_build_info, namespace)', refId: 'namespace' },
          definition: 'label_values(kvq_build_info, namespace)',
          refresh: 2,
          current: {},
        },
      ],
    },
    annotations: { list: [] },
    panels,
  };
}
