import { type DestinationStream, type Logger, type LoggerOptions as PinoOptions, pino } from 'pino';

import { isTransient } from './errors.ts';
import { logContextFields, NO_LOG_FIELDS } from './log-context.ts';
import { formatLogLine } from './log-format.ts';

export type { Logger };

export type LogFormat = 'pretty' | 'json';

export interface LoggerOptions {
  /** Default: pretty when stdout is a terminal, else JSON. */
  format?: LogFormat | undefined;
  /** Where lines go (tests); default stdout. */
  destination?: { write(line: string): unknown };
}

/** A repeated Redis/network error is logged at most once per this window (with a count). */
const REPEAT_WINDOW_MS = 30_000;

/**
 * ioredis' reply decoder meeting bytes no Redis sends (something else listens on the port): as
 * repetitive as a refused connection, since the client reconnects and meets them again.
 */
const REDIS_PROTOCOL_ERROR = /^(Unknown RESP type|Protocol error)\b/;

/**
 * Folds repeats of a transient Redis/network error (ECONNREFUSED, a closed connection, a reply
 * that is not RESP, ...):
 * while a Redis is down every periodic task reports it every tick, so an entry with such an
 * `err` is written once per message and cause per window, as one line (cause and message, no
 * stack), with the number folded since. Other entries pass unchanged.
 */
function createRepeatFilter(now: () => number = Date.now) {
  const seen = new Map<string, { at: number; folded: number }>();
  return (obj: Record<string, unknown>, msg: string): Record<string, unknown> | undefined => {
    const err = obj.err ?? obj.error;
    if (!(err instanceof Error)) return obj;
    if (!isTransient(err) && !REDIS_PROTOCOL_ERROR.test(err.message)) return obj;
    const code = (err as { code?: unknown }).code;
    const cause = typeof code === 'string' ? code : err.message;
    const key = `${msg}|${cause}`;
    const t = now();
    const last = seen.get(key);
    if (last && t - last.at < REPEAT_WINDOW_MS) {
      last.folded++;
      return undefined;
    }
    seen.set(key, { at: t, folded: 0 });
    const rest = { ...obj };
    delete rest.err;
    delete rest.error;
    const line =
      typeof code === 'string' && !err.message.includes(code)
        ? `${code} ${err.message}`
        : err.message;
    return { ...rest, cause: line, ...(last && last.folded > 0 ? { repeats: last.folded } : {}) };
  };
}

/**
 * pino's error serializer, without the arguments of the Redis command an ioredis reply error
 * carries (`command.args`): they hold stored values and API-key digests. The command's name stays.
 */
function serializeError(e: unknown): unknown {
  if (!(e instanceof Error)) return e;
  const out = pino.stdSerializers.err(e) as ReturnType<typeof pino.stdSerializers.err> & {
    command?: unknown;
  };
  const command = out.command as { name?: unknown } | undefined;
  if (command && typeof command === 'object') out.command = { name: command.name };
  return out;
}

/** The format LOG_FORMAT asks for, or pretty on a terminal and JSON elsewhere. */
export function logFormatFor(configured: LogFormat | undefined, isTTY: boolean): LogFormat {
  return configured ?? (isTTY ? 'pretty' : 'json');
}

/**
 * One JSON object per line (ISO times; `role` and `pid` on every line, so mixed process output
 * stays readable), or on a terminal the same entries as readable lines (log-format.ts). A line
 * written inside a job or a traced request also carries its `requestId`, `traceId` and `spanId`
 * (log-context.ts); fields the call passes win.
 */
export function createLogger(level: string, role: string, opts: LoggerOptions = {}): Logger {
  const format = opts.format ?? logFormatFor(undefined, process.stdout.isTTY);
  const fold = createRepeatFilter();
  const options: PinoOptions = {
    level,
    base: { role, pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    serializers: { err: serializeError, error: serializeError },
    mixin: logContextFields,
    mixinMergeStrategy: (fields: object, context: object) =>
      context === NO_LOG_FIELDS ? fields : Object.assign(context, fields),
    hooks: {
      logMethod(args, method) {
        const [first, second, ...more] = args as unknown[];
        if (typeof first !== 'object' || first === null || typeof second !== 'string') {
          method.apply(this, args);
          return;
        }
        const kept = fold(first as Record<string, unknown>, second);
        if (kept) method.apply(this, [kept, second, ...more] as Parameters<typeof method>);
      },
    },
  };
  const out = opts.destination;
  if (format === 'json') {
    return out ? pino(options, out) : pino(options);
  }
  const colour = !out && process.stdout.isTTY;
  const target = out ?? process.stdout;
  const pretty: DestinationStream = {
    write(line: string) {
      target.write(formatLogLine(line.endsWith('\n') ? line.slice(0, -1) : line, colour));
    },
  };
  return pino(options, pretty);
}
