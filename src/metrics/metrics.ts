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
  /**
   * A request refused by authentication or authorization, before any handler ran; `reason` is
   * one of AUTH_DENIAL_REASONS (kvq_auth_denials_total{reason}). Call it once per refused request,
   * from whichever lane refused it.
   */
  observeAuthDenial(reason: AuthDenialReason): void;
  /**
   * A request answered 429 by a rate limit; `kind` says which limit: `key` (the API key's own) or
   * `address` (the client address', for requests without a valid key)
   * (kvq_rate_limited_requests_total{kind}).
   */
  observeRateLimited(kind: RateLimitKind): void;
  /**
   * One reading of the queue (summed over its partitions), or `null` when it could not be read;
   * kept by the one role that collects queue metrics (QUEUE_METRICS).
   */
  recordQueue(queue: string, reading: QueueReading | null): void;
}

/** Why a request was refused by authentication or authorization. */
export const AUTH_DENIAL_REASONS = [
  'missing',
  'malformed',
  'bad_checksum',
  'unknown',
  'expired',
  'revoked',
  'insufficient_scope',
  'prefix_forbidden',
] as const;
export type AuthDenialReason = (typeof AUTH_DENIAL_REASONS)[number];

/** Which rate limit refused a request: the API key's own, or the client address'. */
export const RATE_LIMIT_KINDS = ['key', 'address'] as const;
export type RateLimitKind = (typeof RATE_LIMIT_KINDS)[number];

/** The BullMQ job states kvq_queue_jobs reports. */
export const QUEUE_JOB_STATES = ['waiting', 'active', 'delayed', 'prioritized', 'failed'] as const;
export type QueueJobState = (typeof QUEUE_JOB_STATES)[number];

/** The queue, summed over its partitions' BullMQ queues. */
export interface QueueReading {
  jobs: Record<QueueJobState, number>;
  /** Age of the oldest job waiting in any partition (0 when none waits). */
  oldestWaitingSeconds: number;
  /** Ops in the dead-letter list. */
  deadLetters: number;
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
  const requestChildren = new Map<
    string,
    { count: ReturnType<typeof requests.labels>; time: ReturnType<typeof duration.labels> }
  >();
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

  const authDenials = new Counter({
    name: 'kvq_auth_denials_total',
    help: 'Requests refused by authentication or authorization, by reason.',
    labelNames: ['reason'],
    registers: [registry],
  });
  for (const r of AUTH_DENIAL_REASONS) authDenials.labels(r).inc(0);
  const rateLimited = new Counter({
    name: 'kvq_rate_limited_requests_total',
    help: 'Requests answered 429 by a rate limit, by kind (key: the API key, address: the client address).',
    labelNames: ['kind'],
    registers: [registry],
  });
  for (const k of RATE_LIMIT_KINDS) rateLimited.labels(k).inc(0);
  const queueJobs = new Gauge({
    name: 'kvq_queue_jobs',
    help: 'Jobs in the queue by state, summed over its partitions (from the role with QUEUE_METRICS).',
    labelNames: ['queue', 'state'],
    registers: [registry],
  });
  const queueOldest = new Gauge({
    name: 'kvq_queue_oldest_waiting_job_age_seconds',
    help: 'Age of the oldest waiting job in any partition of the queue; 0 when none waits.',
    labelNames: ['queue'],
    registers: [registry],
  });
  const deadLetters = new Gauge({
    name: 'kvq_dead_letters',
    help: 'Ops in the dead-letter list of the queue, waiting for a replay or a discard.',
    labelNames: ['queue'],
    registers: [registry],
  });
  const queueUp = new Gauge({
    name: 'kvq_queue_metrics_up',
    help: '1 when the last reading of the queue succeeded, else 0 (the other kvq_queue_* keep their last values).',
    labelNames: ['queue'],
    registers: [registry],
  });

  return {
    registry,
    observeRequest(method, route, status, startedMs) {
      const m = METHODS.has(method) ? method : 'OTHER';
      // On every request: the children of a label set are looked up once, then kept (the label
      // values are bounded, see above), rather than hashed by prom-client each time.
      const id = `${m} ${route} ${String(status)}`;
      let child = requestChildren.get(id);
      if (!child) {
        const s = String(status);
        child = { count: requests.labels(m, route, s), time: duration.labels(m, route, s) };
        requestChildren.set(id, child);
      }
      child.count.inc();
      child.time.observe((performance.now() - startedMs) / 1000);
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
    observeAuthDenial(reason) {
      authDenials.labels(reason).inc();
    },
    observeRateLimited(kind) {
      rateLimited.labels(kind).inc();
    },
    recordQueue(queue, reading) {
      queueUp.labels(queue).set(reading ? 1 : 0);
      if (!reading) return;
      for (const state of QUEUE_JOB_STATES) queueJobs.labels(queue, state).set(reading.jobs[state]);
      queueOldest.labels(queue).set(reading.oldestWaitingSeconds);
      deadLetters.labels(queue).set(reading.deadLetters);
    },
  };
}
