import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

import { OP_TYPES, type OpType } from '../core/index.ts';

/**
 * Every metric kvq exports, in one registry per process (docs/operations.md lists them). Roles
 * are handed the parts they feed; none of them reads the registry. Label values are bounded:
 * methods outside a fixed list are `OTHER`, routes are templates (see http-route.ts), op types,
 * outcomes and failure codes come from fixed lists.
 */
export interface Metrics {
  readonly registry: Registry;
  /** One answered HTTP request, from either transport. `startedMs`: `performance.now()`. */
  observeRequest(method: string, route: string, status: number, startedMs: number): void;
  /** A write accepted as a new op (not a repeat of an earlier one). */
  opAccepted(type: OpType): void;
  /**
   * An op's terminal status, as this process recorded it; `code`: its failure code (none for
   * applied and superseded). `lagMs`: for an applied op, from acceptance to the apply.
   */
  opFinished(outcome: string, code: string | undefined, lagMs?: number): void;
  /** A job attempt began; the returned function ends it (`retried`: handed back to BullMQ). */
  jobStarted(): (retried: boolean) => void;
  /** A worker started in this process that runs at most `n` jobs at once. */
  addWorkerConcurrency(n: number): void;
  /** One reading of a Redis: `null` when it did not answer. */
  recordRedis(
    redis: 'queue' | 'data',
    reading: { pingSeconds: number; usedBytes: number; maxBytes: number } | null,
  ): void;
  /** An audit entry that could not be written to the audit stream (it is still logged). */
  auditWriteFailed(): void;
}

const BAD_DEFAULT_NAMES = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];
const METHODS = new Set(['GET', 'HEAD', 'PUT', 'POST', 'DELETE', 'PATCH', 'OPTIONS']);
const SECONDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const LAG_SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

export function createMetrics(build: { version: string; role: string }): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  // Gauges named like counters, which `promtool check metrics` rejects; their per-type
  // breakdowns (nodejs_active_handles{type} and the like) stay, and sum to the same.
  for (const name of BAD_DEFAULT_NAMES) registry.removeSingleMetric(name);

  const info = new Gauge({
    name: 'kvq_build_info',
    help: 'Always 1; the labels say which kvq and Node.js this process runs.',
    labelNames: ['version', 'node_version', 'role'],
    registers: [registry],
  });
  info.labels(build.version, process.versions.node, build.role).set(1);

  const requests = new Counter({
    name: 'kvq_http_requests_total',
    help: 'HTTP requests answered, by method, route template and status.',
    labelNames: ['method', 'route', 'status'],
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'kvq_http_request_duration_seconds',
    help: 'Time from a request arriving to its answer being sent, by method, route template and status.',
    labelNames: ['method', 'route', 'status'],
    buckets: SECONDS,
    registers: [registry],
  });
  const accepted = new Counter({
    name: 'kvq_ops_accepted_total',
    help: 'Writes accepted as new ops, by op type.',
    labelNames: ['type'],
    registers: [registry],
  });
  for (const t of OP_TYPES) accepted.labels(t).inc(0);
  const finished = new Counter({
    name: 'kvq_ops_finished_total',
    help: 'Ops given a terminal status by this process, by outcome (the receipt status) and failure code.',
    labelNames: ['outcome', 'code'],
    registers: [registry],
  });
  const lag = new Histogram({
    name: 'kvq_op_apply_lag_seconds',
    help: 'From an op being accepted (queue Redis clock) to its apply (data Redis clock), for applied ops.',
    buckets: LAG_SECONDS,
    registers: [registry],
  });
  const jobDuration = new Histogram({
    name: 'kvq_job_duration_seconds',
    help: 'Time one job attempt took in a worker, whatever it came to.',
    buckets: SECONDS,
    registers: [registry],
  });
  const retries = new Counter({
    name: 'kvq_job_retries_total',
    help: 'Job attempts that failed and were handed back to BullMQ for another try.',
    registers: [registry],
  });
  const active = new Gauge({
    name: 'kvq_worker_jobs_active',
    help: 'Jobs this worker process is running now.',
    registers: [registry],
  });
  const concurrency = new Gauge({
    name: 'kvq_worker_concurrency',
    help: 'Jobs this worker process runs at most at once.',
    registers: [registry],
  });
  const redisUp = new Gauge({
    name: 'kvq_redis_up',
    help: '1 when the last reading of this Redis got an answer, else 0.',
    labelNames: ['redis'],
    registers: [registry],
  });
  const redisPing = new Gauge({
    name: 'kvq_redis_ping_seconds',
    help: 'Round trip of the last PING to this Redis.',
    labelNames: ['redis'],
    registers: [registry],
  });
  const redisUsed = new Gauge({
    name: 'kvq_redis_memory_used_bytes',
    help: 'used_memory of this Redis at the last reading (on a cluster: the fullest primary).',
    labelNames: ['redis'],
    registers: [registry],
  });
  const redisMax = new Gauge({
    name: 'kvq_redis_maxmemory_bytes',
    help: 'maxmemory of this Redis at the last reading (0 = no limit).',
    labelNames: ['redis'],
    registers: [registry],
  });
  const auditFailures = new Counter({
    name: 'kvq_audit_write_failures_total',
    help: 'Audit entries the data Redis did not take; each is still in the log.',
    registers: [registry],
  });

  return {
    registry,
    observeRequest(method, route, status, startedMs) {
      const m = METHODS.has(method) ? method : 'OTHER';
      const s = String(status);
      requests.labels(m, route, s).inc();
      duration.labels(m, route, s).observe((performance.now() - startedMs) / 1000);
    },
    opAccepted(type) {
      accepted.labels(type).inc();
    },
    opFinished(outcome, code, lagMs) {
      finished.labels(outcome, code ?? '').inc();
      if (lagMs !== undefined) lag.observe(Math.max(0, lagMs) / 1000);
    },
    jobStarted() {
      active.inc();
      const end = jobDuration.startTimer();
      return (retried) => {
        active.dec();
        end();
        if (retried) retries.inc();
      };
    },
    addWorkerConcurrency(n) {
      concurrency.inc(n);
    },
    recordRedis(redis, reading) {
      redisUp.labels(redis).set(reading ? 1 : 0);
      if (!reading) return;
      redisPing.labels(redis).set(reading.pingSeconds);
      redisUsed.labels(redis).set(reading.usedBytes);
      redisMax.labels(redis).set(reading.maxBytes);
    },
    auditWriteFailed() {
      auditFailures.inc();
    },
  };
}
