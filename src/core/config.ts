import { z } from 'zod';

import { parseCidr } from './cidr.ts';
import { parseRedisUrl, RedisUrlError } from './redis-url.ts';

/**
 * The only module that reads `process.env`. Every tunable is listed here with its default;
 * docs/configuration.md documents each one (a test holds it, and the README's table, to this schema).
 */

/** Standalone, Sentinel or cluster (see redis-url.ts); the message names what is wrong. */
const redisUrl = z
  .string()
  .trim()
  .superRefine((s, ctx) => {
    try {
      parseRedisUrl(s);
    } catch (e) {
      if (!(e instanceof RedisUrlError)) throw e;
      ctx.addIssue({ code: 'custom', message: e.message });
    }
  });

/** RFC 6750 b64token: what a client can send after `Bearer `. */
const B64TOKEN = /^[A-Za-z0-9._~+/-]+=*$/;

/** An integer in [min, max]; every way to miss says the same thing, e.g. "expected an integer from 1 to 16". */
const int = (
  min: number,
  max: number,
  what = `an integer from ${String(min)} to ${String(max)}`,
) => {
  const error = `expected ${what}`;
  return z.coerce.number({ error }).int({ error }).min(min, { error }).max(max, { error });
};
const port = () => int(0, 65535, 'a port number');
/** Requests per second: a decimal from 0 (no limit) up, e.g. 0.5 = one request per 2 s. */
const perSecond = () => {
  const error = 'expected a number of requests per second from 0 to 1000000';
  return z.coerce.number({ error }).min(0, { error }).max(1_000_000, { error });
};

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'], {
    error: 'expected one of true, false, 1, 0, yes, no',
  })
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

/** Values never echoed in a problem (secrets); a Redis URL is echoed with its password masked. */
const SECRET = new Set(['API_TOKENS', 'SENTINEL_PASSWORD', 'OTEL_EXPORTER_OTLP_HEADERS']);

/** An http(s) URL (an OTLP endpoint). */
const httpUrl = z
  .string()
  .trim()
  .refine((s) => URL.canParse(s) && /^https?:$/.test(new URL(s).protocol), {
    error: 'expected an http:// or https:// URL',
  });

const otlpProtocol = z.enum(['http/json'], {
  error: 'kvq exports OTLP as http/json (the collector takes it on the same port as http/protobuf)',
});

/**
 * The OTel environment's `key=value,key2=value2` lists, values percent-decoded; undefined when
 * an entry is not of that form.
 */
function parseKeyValues(s: string): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  for (const raw of s.split(',')) {
    const entry = raw.trim();
    if (entry === '') continue;
    const eq = entry.indexOf('=');
    const key = eq > 0 ? entry.slice(0, eq).trim() : '';
    if (key === '') return undefined;
    try {
      out[key] = decodeURIComponent(entry.slice(eq + 1).trim());
    } catch {
      return undefined;
    }
  }
  return out;
}

const keyValueList = z.string().refine((s) => parseKeyValues(s) !== undefined, {
  error: 'expected key=value pairs separated by commas (values percent-encoded)',
});

const SAMPLERS = [
  'always_on',
  'always_off',
  'traceidratio',
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
] as const;

const schema = z.object({
  QUEUE_REDIS_URL: redisUrl.optional(),
  KV_REDIS_URL: redisUrl.optional(),
  /**
   * The Sentinels' own password (`requirepass` in sentinel.conf), for redis+sentinel:// URLs; the
   * password inside such a URL is the Redis servers' (primary and replicas).
   */
  SENTINEL_PASSWORD: z.string().min(1).optional(),
  /**
   * The address the API (and a worker's health port) listens on. Loopback by default, so that
   * `kvq dev`, whose API has no tokens, is not reachable from the network; containers and the
   * Kubernetes manifests set 0.0.0.0.
   */
  HOST: z.string().min(1, { error: 'expected an address to listen on' }).default('127.0.0.1'),
  PORT: port().default(8080),
  /**
   * Jobs one worker process runs at a time, over all partitions: each partition's BullMQ worker
   * gets ceil(WORKER_CONCURRENCY / PARTITIONS).
   */
  WORKER_CONCURRENCY: int(1, 1024).default(64),
  /**
   * Partitions of the keyspace and of the queue (one BullMQ queue each). Fixed for the life of
   * the data: it is recorded in both Redis, and a process configured otherwise refuses to start.
   * 12 spreads evenly over 1, 2, 3, 4, 6 or 12 cluster primaries.
   */
  PARTITIONS: int(1, 1024).default(12),
  /**
   * With N > 0, a write is answered only once N replicas of the queue Redis have its acceptance
   * (WAIT), and an op is reported applied only once N replicas of the data Redis have it; a
   * shortfall within REPLICA_ACK_TIMEOUT_MS answers 503 WRITE_NOT_REPLICATED (outcome unknown).
   */
  MIN_REPLICA_ACKS: int(0, 16).default(0),
  REPLICA_ACK_TIMEOUT_MS: int(10, 60_000).default(1000),
  MAX_KEY_BYTES: int(1, 65536).default(512),
  MAX_VALUE_BYTES: int(16, 64 * 1024 * 1024).default(1024 * 1024),
  /** How long a finished op's receipt stays readable. */
  OP_RETENTION_SECONDS: int(1, 30 * 24 * 3600).default(3600),
  /** At most this many finished receipts are kept; the oldest are dropped first. */
  OP_RETENTION_COUNT: int(100, 100_000_000).default(1_000_000),
  /** How long a key's last version outlives its delete or TTL expiry. */
  FENCE_WINDOW_SECONDS: int(60, 365 * 24 * 3600).default(24 * 3600),
  JOB_ATTEMPTS: int(1, 100).default(8),
  JOB_BACKOFF_MS: int(10, 600_000).default(500),
  /** Worker stall detection: a killed worker's job is redelivered after about lock + interval. */
  WORKER_LOCK_MS: int(1000, 600_000).default(10_000),
  WORKER_STALLED_INTERVAL_MS: int(1000, 600_000).default(5000),
  SHUTDOWN_TIMEOUT_MS: int(100, 600_000).default(20_000),
  /**
   * At most this many accepted, unfinished ops (queued, active or retrying) at a time: past it,
   * writes get 503 BACKLOG_FULL (0 = no limit).
   */
  MAX_BACKLOG: int(0, 100_000_000).default(100_000),
  /** How often a worker (one at a time) moves final failures to the DLQ and closes lost ops. */
  RECONCILE_INTERVAL_MS: int(100, 600_000).default(10_000),
  /** An accepted op whose job is missing for this long is closed as dead (JOB_LOST). */
  ORPHAN_AGE_MS: int(1000, 86_400_000).default(60_000),
  /**
   * A conditional write, create or delete is decided once the key's pending writes have landed;
   * it waits this long for them, then answers 503 KEY_BUSY.
   */
  KEY_BUSY_WAIT_MS: int(0, 60_000).default(2000),
  /** Upper bound for `GET /v1/keys/{key}?after=` when no `Prefer: wait` is given. */
  READ_AFTER_WAIT_MS: int(0, 30_000).default(5000),
  QUEUE_NAME: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/, { error: 'expected 1 to 64 of A-Z a-z 0-9 _ -' })
    .default('kvq-ops'),
  KEY_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_:-]{1,64}$/, { error: 'expected 1 to 64 of A-Z a-z 0-9 _ : -' })
    .default('kvq:'),
  /** `kvq autoscaler`: the worker Deployment it scales, and how. */
  AUTOSCALER_NAMESPACE: z.string().min(1).default('kvq'),
  AUTOSCALER_DEPLOYMENT: z.string().min(1).default('kvq-worker'),
  TARGET_BACKLOG_PER_WORKER: int(1, 10_000_000).default(1000),
  MIN_WORKERS: int(0, 1000).default(1),
  MAX_WORKERS: int(1, 1000).default(10),
  AUTOSCALER_INTERVAL_MS: int(500, 600_000).default(5000),
  SCALE_DOWN_COOLDOWN_MS: int(0, 3_600_000).default(120_000),
  /** Set by Kubernetes in every pod: the autoscaler then uses its service account. */
  KUBERNETES_SERVICE_HOST: z.string().optional(),
  LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
      error: 'expected one of fatal, error, warn, info, debug, trace, silent',
    })
    .default('info'),
  /**
   * `pretty`: one readable line per entry; `json`: one JSON object per line (ISO times). Unset:
   * pretty when stdout is a terminal, else JSON.
   */
  LOG_FORMAT: z.enum(['pretty', 'json'], { error: 'expected pretty or json' }).optional(),
  /**
   * One log line per HTTP request (time, method, path, status, ms). Unset: on in `kvq dev` with
   * pretty logs, else only at LOG_LEVEL=debug.
   */
  ACCESS_LOG: bool.optional(),
  /** `kvq dev`: where the embedded redis-server children keep their data. */
  DEV_DATA_DIR: z.string().min(1).default('.kvq'),
  DEV_WORKERS: int(1, 16).default(1),
  REDIS_CONNECT_TIMEOUT_MS: int(100, 60_000).default(1500),
  REDIS_COMMAND_TIMEOUT_MS: int(100, 60_000).default(1500),
  DOCS_ENABLED: bool.default(true),
  /**
   * Comma-separated bearer tokens; when set, every /v1 route requires one. Each must be an
   * RFC 6750 b64token, since no other token could ever be presented; a bad entry is named by its
   * position, never echoed (it is a secret).
   */
  API_TOKENS: z
    .string()
    .optional()
    .superRefine((s, ctx) => {
      const entries = (s ?? '').split(',');
      entries.forEach((raw, i) => {
        const t = raw.trim();
        if (t.length > 0 && !B64TOKEN.test(t)) {
          ctx.addIssue({
            code: 'custom',
            message:
              `entry ${String(i + 1)} of ${String(entries.length)} has a character outside ` +
              'the RFC 6750 token alphabet [A-Za-z0-9._~+/-]+=* (value not shown)',
          });
        }
      });
    })
    .transform((s) =>
      (s ?? '')
        .split(',')
        .map((t) => t.trim())
        .filter((t) => t.length > 0),
    ),
  /**
   * Requests per second per API key, for keys without a limit of their own (0 = none). Off by
   * default, like authentication on loopback: `npm start`, the tests and the bench must never
   * meet a 429 they did not ask for; production deployments set it.
   */
  RATE_LIMIT_PER_SECOND: perSecond().default(0),
  /**
   * Requests per second per client address, for requests without an API key (authentication
   * off) and for those whose authentication failed (0 = none).
   */
  RATE_LIMIT_ANON_PER_SECOND: perSecond().default(0),
  /**
   * The window the limits are counted over, in seconds: a client may spend a whole window's
   * quota (per second × window) at once, so this sets the burst.
   */
  RATE_LIMIT_WINDOW_SECONDS: int(1, 3600).default(1),
  /**
   * How long a request waits for the rate-limit counter in Redis before it is counted in this
   * process' memory instead (then Redis is left alone for a second).
   */
  RATE_LIMIT_REDIS_TIMEOUT_MS: int(5, 10_000).default(100),
  /**
   * Comma-separated addresses and CIDR networks of the proxies in front of the API. Only a
   * request from one of them has its client address taken from TRUSTED_PROXY_HEADER: the
   * right-most address in it that is not itself a trusted proxy.
   */
  TRUSTED_PROXIES: z
    .string()
    .optional()
    .superRefine((s, ctx) => {
      for (const raw of (s ?? '').split(',')) {
        const t = raw.trim();
        if (t.length > 0 && !parseCidr(t)) {
          ctx.addIssue({
            code: 'custom',
            message: `${JSON.stringify(t)} is not an IP address or CIDR network`,
          });
        }
      }
    })
    .transform((s) =>
      (s ?? '')
        .split(',')
        .map((t) => t.trim())
        .filter((t) => t.length > 0),
    ),
  /** The header the trusted proxies append the client address to. */
  TRUSTED_PROXY_HEADER: z
    .enum(['x-forwarded-for', 'forwarded'], { error: 'expected x-forwarded-for or forwarded' })
    .default('x-forwarded-for'),
  /**
   * The read-only queue dashboard (Bull Board) at /admin/queues, for admin credentials only.
   * `auto`: served when authentication is on (AUTH=keys), else not at all; `on`: also without
   * authentication, which is allowed only on a loopback HOST; `off`: never.
   */
  ADMIN_UI: z
    .enum(['auto', 'on', 'off'], { error: 'expected one of auto, on, off' })
    .default('auto'),
  /**
   * The audit log of admin actions (a Redis stream in the data Redis) keeps about this many of
   * the newest entries: Redis trims whole stream nodes, so up to one node more.
   */
  AUDIT_LOG_MAX_ENTRIES: int(1, 10_000_000).default(10_000),
  /**
   * `keys`: every /v1 route needs an API key (or a deprecated API_TOKENS entry), with the scope
   * and prefixes the route table asks (docs/security.md); `off`: no authentication. Unset: `keys`
   * when API_TOKENS or API_KEYS_FILE is set, else `off`. `off` with either set is refused.
   */
  AUTH: z.enum(['off', 'keys'], { error: 'expected off or keys' }).optional(),
  /**
   * A JSON file of API key digests (a mounted Secret), read at start and re-read when it changes
   * (checked every KEY_CACHE_MS); keys in it work besides those in the data Redis.
   */
  API_KEYS_FILE: z.string().min(1).optional(),
  /**
   * How long a verified API key is trusted without asking the data Redis again: a revocation
   * takes effect within it (an expiry exactly). Unknown keys are remembered as long.
   */
  KEY_CACHE_MS: int(0, 300_000).default(5000),
  /** The worker's /healthz and /readyz port (0 = none, e.g. inside `kvq dev`). */
  WORKER_HEALTH_PORT: port().default(8081),
  /**
   * Prometheus metrics (`GET /metrics`) on a listener of their own at HOST:METRICS_PORT, in every
   * role (one per process: `kvq dev` serves its API's and workers' together). 0 = none.
   */
  METRICS_PORT: port().default(0),
  /**
   * This process also reads the queue (jobs by state, oldest waiting job, dead letters) into its
   * metrics. Meant for one role only (the manifests: kvq-autoscaler, a single replica), so the
   * queue Redis is read once per interval whatever the number of pods. Needs METRICS_PORT.
   */
  QUEUE_METRICS: bool.default(false),
  /**
   * Writes get 503 QUEUE_FULL / DATA_FULL once that Redis' used_memory reaches this share of its
   * maxmemory (a Redis without maxmemory is never full by this test). The rest is headroom for
   * the ops already accepted: their jobs, receipts and values still have to be written.
   */
  WRITE_MEMORY_LIMIT_PERCENT: int(10, 100).default(90),
  /**
   * A memory budget for the queue Redis (receipts, Idempotency-Key records, dead letters and the
   * backlog), in bytes: writes get 503 QUEUE_FULL once its used_memory reaches it, whatever its
   * maxmemory (0 = only WRITE_MEMORY_LIMIT_PERCENT of maxmemory).
   */
  QUEUE_MEMORY_MAX_BYTES: int(0, 2 ** 50).default(0),
  /*
   * Tracing (OpenTelemetry, names from its environment-variable specification). Off unless
   * OTEL_TRACES_EXPORTER or an OTLP endpoint is set; see tracingSettings below.
   */
  /** `true`: no tracing whatever else is set. */
  OTEL_SDK_DISABLED: bool.default(false),
  /** `otlp` (OTLP over HTTP), `console` (spans printed to stdout) or `none`. */
  OTEL_TRACES_EXPORTER: z
    .enum(['otlp', 'console', 'none'], { error: 'expected otlp, console or none' })
    .optional(),
  /** The collector's base URL; traces go to `<it>/v1/traces`. */
  OTEL_EXPORTER_OTLP_ENDPOINT: httpUrl.optional(),
  /** The full URL traces go to (wins over OTEL_EXPORTER_OTLP_ENDPOINT). */
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: httpUrl.optional(),
  /** kvq's exporter speaks OTLP over HTTP with JSON bodies, which the collector's 4318 takes. */
  OTEL_EXPORTER_OTLP_PROTOCOL: otlpProtocol.optional(),
  OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: otlpProtocol.optional(),
  /** Headers on every export request (`key=value,...`, values percent-encoded), e.g. an API key. */
  OTEL_EXPORTER_OTLP_HEADERS: keyValueList.optional(),
  OTEL_SERVICE_NAME: z.string().trim().min(1).default('kvq'),
  /** Extra resource attributes (`key=value,...`), e.g. `deployment.environment.name=prod`. */
  OTEL_RESOURCE_ATTRIBUTES: keyValueList.optional(),
  OTEL_TRACES_SAMPLER: z
    .enum(SAMPLERS, { error: `expected one of ${SAMPLERS.join(', ')}` })
    .default('parentbased_always_on'),
  /** The ratio for the `traceidratio` samplers, 0 to 1 (unset: 1). */
  OTEL_TRACES_SAMPLER_ARG: z.coerce
    .number({ error: 'expected a number from 0 to 1' })
    .min(0, { error: 'expected a number from 0 to 1' })
    .max(1, { error: 'expected a number from 0 to 1' })
    .optional(),
});

export type AuthMode = 'off' | 'keys';
export type Config = Readonly<Omit<z.output<typeof schema>, 'AUTH'> & { AUTH: AuthMode }>;
export type ConfigInput = Record<string, string | undefined>;

export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** Parses and validates configuration; throws ConfigError listing every problem at once. */
export function loadConfig(env: ConfigInput = process.env): Config {
  const picked: Record<string, string> = {};
  for (const name of Object.keys(schema.shape)) {
    const v = env[name];
    if (v !== undefined && v !== '') picked[name] = v;
  }
  const parsed = schema.safeParse(picked);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((i) => {
        const name = i.path.join('.') || '(root)';
        const raw = typeof i.path[0] === 'string' ? picked[i.path[0]] : undefined;
        return raw === undefined || SECRET.has(name)
          ? `${name}: ${i.message}`
          : `${name}: ${i.message}, got ${JSON.stringify(maskPassword(raw))}`;
      }),
    );
  }
  const c = parsed.data;
  if (c.MIN_REPLICA_ACKS > 0 && c.REPLICA_ACK_TIMEOUT_MS >= c.REDIS_COMMAND_TIMEOUT_MS) {
    // WAIT holds its connection; the stall watch would fail it (and everything queued behind
    // it) as a hung Redis first.
    throw new ConfigError([
      `REPLICA_ACK_TIMEOUT_MS: must be below REDIS_COMMAND_TIMEOUT_MS (${String(c.REDIS_COMMAND_TIMEOUT_MS)}) when MIN_REPLICA_ACKS > 0, got ${String(c.REPLICA_ACK_TIMEOUT_MS)}`,
    ]);
  }
  const keyed = c.API_TOKENS.length > 0 || c.API_KEYS_FILE !== undefined;
  if (c.AUTH === 'off' && keyed) {
    throw new ConfigError([
      'AUTH: off, but API_TOKENS or API_KEYS_FILE is set; unset them or set AUTH=keys',
    ]);
  }
  const auth = c.AUTH ?? (keyed ? 'keys' : 'off');
  if (c.ADMIN_UI === 'on' && auth === 'off' && !isLoopback(c.HOST)) {
    // An open dashboard is fine on a developer's loopback, never on an address others reach.
    throw new ConfigError([
      `ADMIN_UI: "on" without authentication (AUTH=off) needs a loopback HOST (127.0.0.1, ::1, localhost), got HOST ${JSON.stringify(c.HOST)}`,
    ]);
  }
  return Object.freeze({ ...c, AUTH: auth });
}

/** True for a HOST only this machine can reach (127.0.0.0/8, ::1, localhost). */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** `redis://user:secret@h:1` -> `redis://user:***@h:1`: a URL is echoed, its password never. */
function maskPassword(value: string): string {
  return value.replace(/^([a-z+]+:\/\/[^:@/]*:)[^@]*@/i, '$1***@');
}

/** Config for a role that needs both Redis URLs. */
export function requireRedisUrls(config: Config): { queueUrl: string; kvUrl: string } {
  const problems: string[] = [];
  if (!config.QUEUE_REDIS_URL) problems.push('QUEUE_REDIS_URL: required for this role');
  if (!config.KV_REDIS_URL) problems.push('KV_REDIS_URL: required for this role');
  if (problems.length > 0 || !config.QUEUE_REDIS_URL || !config.KV_REDIS_URL) {
    throw new ConfigError(problems);
  }
  return { queueUrl: config.QUEUE_REDIS_URL, kvUrl: config.KV_REDIS_URL };
}

/** What tracing was configured with; see tracingSettings. */
export interface TracingSettings {
  exporter: 'otlp' | 'console';
  /** Where OTLP spans are sent (`otlp` only). */
  url: string;
  headers: Readonly<Record<string, string>>;
  serviceName: string;
  resourceAttributes: Readonly<Record<string, string>>;
  sampler: (typeof SAMPLERS)[number];
  samplerRatio: number;
}

/** The collector's OTLP/HTTP port on this host, the OTel specification's default endpoint. */
const DEFAULT_OTLP_ENDPOINT = 'http://localhost:4318';

/**
 * Tracing's settings, or undefined when tracing is off: it is on when OTEL_TRACES_EXPORTER is
 * `otlp` or `console`, or (exporter unset) an OTLP endpoint is set; OTEL_SDK_DISABLED=true and
 * OTEL_TRACES_EXPORTER=none turn it off whatever else is set.
 */
export function tracingSettings(config: Config): TracingSettings | undefined {
  if (config.OTEL_SDK_DISABLED || config.OTEL_TRACES_EXPORTER === 'none') return undefined;
  const endpoint = config.OTEL_EXPORTER_OTLP_ENDPOINT;
  const tracesEndpoint = config.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
  const exporter =
    config.OTEL_TRACES_EXPORTER ??
    (endpoint !== undefined || tracesEndpoint !== undefined ? 'otlp' : undefined);
  if (exporter === undefined) return undefined;
  const base = (endpoint ?? DEFAULT_OTLP_ENDPOINT).replace(/\/*$/, '');
  return {
    exporter,
    url: tracesEndpoint ?? `${base}/v1/traces`,
    headers: parseKeyValues(config.OTEL_EXPORTER_OTLP_HEADERS ?? '') ?? {},
    serviceName: config.OTEL_SERVICE_NAME,
    resourceAttributes: parseKeyValues(config.OTEL_RESOURCE_ATTRIBUTES ?? '') ?? {},
    sampler: config.OTEL_TRACES_SAMPLER,
    samplerRatio: config.OTEL_TRACES_SAMPLER_ARG ?? 1,
  };
}

/** Every variable's name, for the documentation check and tests. */
export const CONFIG_KEYS = Object.keys(schema.shape);
