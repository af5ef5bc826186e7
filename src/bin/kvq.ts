#!/usr/bin/env node
import { isCliInvocation, runCli, SERVER_ROLES } from '../cli/index.ts';
import {
  AppError,
  type Config,
  ConfigError,
  createLifecycle,
  createLogger,
  loadConfig,
  logFormatFor,
  requireRedisUrls,
} from '../core/index.ts';
import {
  DEV_TOPOLOGIES,
  type DevRedisSource,
  type DevTopology,
  preflightDev,
  StartupError,
} from './dev.ts';

const USAGE = `usage: kvq <role>
       kvq dev [--topology standalone|cluster|sentinel]
       kvq <command> [args] [--url URL] [--token TOKEN] [--json]

roles:
  api      HTTP API (needs QUEUE_REDIS_URL and KV_REDIS_URL)
  worker   applies queued writes to the data Redis
  dev      local stack: two redis-server children + api + worker (or uses the URLs when set);
           --topology cluster: two 3-primary/3-replica clusters, sentinel: two sets of a
           primary, 2 replicas and 3 Sentinels (see docs/topologies.md)
  autoscaler  scales the worker Deployment on queue backlog (needs QUEUE_REDIS_URL)
  keys     API keys in the data Redis: kvq keys create|list|revoke (kvq keys help)
  help     this text

commands (a client of the HTTP API; kvq help <command> for each, docs/client-and-cli.md):
  get, put, del, ls, ops, dlq (ls|show|replay|discard); kvq --version

All configuration comes from environment variables; see the README.`;

/** `kvq keys ...`: API keys, straight in the data Redis (src/bin/keys.ts). */
async function keys(args: string[]): Promise<number> {
  try {
    const config = loadConfig();
    const { keysCommand } = await import('./keys.ts');
    return await keysCommand(args, config);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`kvq: ${err.message}\n`);
      return 2;
    }
    if (err instanceof AppError) {
      process.stderr.write(`kvq keys: ${err.detail}\n`);
      return 3;
    }
    throw err;
  }
}

/** Signals this close together count as one (see onSignal). */
const SAME_SIGNAL_MS = 1000;

async function main(argv: string[]): Promise<number> {
  const role = argv[0] ?? 'help';
  // Client commands (src/cli) are no server role; bin/kvq.js sends them to ./cli.ts directly.
  if (isCliInvocation(argv)) {
    const { stdin, stdout, stderr } = process;
    return runCli(argv, { env: process.env, stdin, stdout, stderr });
  }
  if (role === 'help' || role === '--help' || role === '-h') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (role === 'keys') return keys(argv.slice(1));
  if (!SERVER_ROLES.includes(role)) {
    process.stderr.write(
      `kvq: unknown command "${role}" (neither a command nor a role)\n\n${USAGE}\n`,
    );
    return 2;
  }
  const options = parseOptions(role, argv.slice(1));
  if (typeof options === 'string') {
    process.stderr.write(`kvq: ${options}\n\n${USAGE}\n`);
    return 2;
  }

  let config: Config;
  try {
    config = loadConfig();
    if (role === 'api' || role === 'worker') requireRedisUrls(config);
    if (role === 'autoscaler' && !config.QUEUE_REDIS_URL) {
      throw new ConfigError(['QUEUE_REDIS_URL: required for this role']);
    }
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`kvq: ${err.message}\n`);
      return 2;
    }
    throw err;
  }

  // `kvq dev` checks its port and its Redis before it starts anything (one line if not).
  let source: DevRedisSource | undefined;
  if (role === 'dev') {
    try {
      source = await preflightDev(config, options);
    } catch (err) {
      if (!(err instanceof StartupError)) throw err;
      process.stderr.write(`kvq: ${err.message}\n`);
      return 1;
    }
  }

  const format = logFormatFor(config.LOG_FORMAT, process.stdout.isTTY);
  const logger = createLogger(config.LOG_LEVEL, role, { format });
  const lifecycle = createLifecycle({ deadlineMs: config.SHUTDOWN_TIMEOUT_MS, logger });
  // One Ctrl-C of `npm start` arrives twice: the terminal signals the whole process group, and
  // npm passes its own SIGINT on to kvq. A signal within SAME_SIGNAL_MS of the first is that
  // same Ctrl-C; a later one (the user pressing again during a slow drain) forces the exit.
  let firstSignalAt: number | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    const now = Date.now();
    if (firstSignalAt !== undefined) {
      if (now - firstSignalAt < SAME_SIGNAL_MS) return;
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    firstSignalAt = now;
    void lifecycle.shutdown(signal).then((r) => {
      process.exit(r.timedOut || r.failed.length > 0 ? 1 : 0);
    });
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  try {
    // Each role loads only its own modules: the Kubernetes client alone costs ~80 MB of RSS,
    // which the API and workers must not carry.
    // Tracing first, so that it is shut down (its last spans flushed) after everything else.
    const { startTracing } = await import('./tracing.ts');
    const tracer =
      role === 'autoscaler' ? undefined : await startTracing(config, role, logger, lifecycle);
    const { startMetrics } = await import('./metrics.ts');
    const { metrics } = await startMetrics(config, role, logger, lifecycle);
    if (role === 'api') {
      const { startApi } = await import('./api.ts');
      await startApi(config, requireRedisUrls(config), logger, lifecycle, metrics, tracer);
    } else if (role === 'worker') {
      const { startWorker } = await import('./worker.ts');
      await startWorker(config, requireRedisUrls(config), logger, lifecycle, metrics, tracer);
    } else if (role === 'autoscaler') {
      const { startAutoscaler } = await import('./autoscaler.ts');
      await startAutoscaler(
        config,
        config.QUEUE_REDIS_URL ?? '',
        logger,
        lifecycle,
        undefined,
        metrics,
      );
    } else {
      const { startDev } = await import('./dev.ts');
      // On a terminal the dev loop logs a line per request unless ACCESS_LOG says otherwise.
      const devConfig = { ...config, ACCESS_LOG: config.ACCESS_LOG ?? format === 'pretty' };
      const dev = await startDev(devConfig, logger, lifecycle, {
        ...options,
        source,
        metrics,
        tracer,
      });
      const bound = dev.url.endsWith(`//${dev.listening}`)
        ? ''
        : `  listening on ${dev.listening}: reachable from the network` +
          (config.AUTH === 'keys' ? ' (AUTH=keys)\n' : ', with no authentication (AUTH=off)!\n');
      process.stdout.write(
        `\nkvq is running at ${dev.url}  (docs: ${dev.url}/docs)\n` +
          bound +
          `  queue Redis ${dev.queueUrl}  data Redis ${dev.kvUrl}\n` +
          `  try: curl -X PUT ${dev.url}/v1/keys/hello -H 'Content-Type: application/json' -d '{"value":"world"}'\n` +
          `  Ctrl-C stops everything.\n\n`,
      );
    }
  } catch (err) {
    if (err instanceof StartupError || isAddressInUse(err)) {
      await lifecycle.shutdown('startup failed');
      process.stderr.write(`kvq: ${startupLine(err, config, role)}\n`);
      return 1;
    }
    logger.fatal({ err }, 'startup failed');
    await lifecycle.shutdown('startup failed');
    return 1;
  }
  return -1; // keep running until a signal
}

function isAddressInUse(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === 'EADDRINUSE';
}

/** One line for a start-up failure the user can fix. */
function startupLine(err: unknown, config: Config, role: string): string {
  if (err instanceof StartupError) return err.message;
  const [name, port] =
    config.METRICS_PORT > 0 && (err as { port?: unknown }).port === config.METRICS_PORT
      ? ['METRICS_PORT', config.METRICS_PORT]
      : role === 'worker'
        ? ['WORKER_HEALTH_PORT', config.WORKER_HEALTH_PORT]
        : ['PORT', config.PORT];
  return `port ${String(port)} on ${config.HOST} is already in use; set ${name} to a free port`;
}

/** The options after the role (only `dev` takes any), or what is wrong with them. */
function parseOptions(role: string, args: string[]): { topology?: DevTopology } | string {
  const out: { topology?: DevTopology } = {};
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? '';
    const [flag, inline] = arg.startsWith('--topology=') ? ['--topology', arg.slice(11)] : [arg];
    if (role !== 'dev' || flag !== '--topology') return `unknown option "${arg}" for ${role}`;
    const value = inline ?? args[++i];
    if (!DEV_TOPOLOGIES.includes(value as DevTopology)) {
      return `--topology must be one of ${DEV_TOPOLOGIES.join(', ')}`;
    }
    out.topology = value as DevTopology;
  }
  return out;
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (err: unknown) => {
    process.stderr.write(`kvq: ${String(err)}\n`);
    process.exit(1);
  },
);
