import { type Logger, pino } from 'pino';

export type { Logger };

/** JSON logs to stdout; `role` is stamped on every line so mixed process output stays readable. */
export function createLogger(level: string, role: string): Logger {
  return pino({ level, base: { role, pid: process.pid } });
}
