/**
 * The readable form of kvq's log lines, for a terminal: pino writes one JSON object per line, and
 * this turns each into `time LEVEL role message key=value ...`. An HTTP request reads
 * `time method path status ms`. Used only when logs go to a terminal (or LOG_FORMAT=pretty);
 * everywhere else the JSON is written as is.
 */

const LEVELS: Record<number, string> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO ',
  40: 'WARN ',
  50: 'ERROR',
  60: 'FATAL',
};
const COLOURS: Record<number, string> = { 40: '\x1b[33m', 50: '\x1b[31m', 60: '\x1b[31m' };
const DIM = '\x1b[2m';
const RESET = '\x1b[0m';
/** Keys shown in the line's head, or not at all. */
const HEAD = new Set(['level', 'time', 'pid', 'hostname', 'role', 'msg']);

interface LogError {
  type?: string;
  message?: string;
  stack?: string;
  code?: string;
}

function clock(time: unknown): string {
  const d = typeof time === 'string' || typeof time === 'number' ? new Date(time) : new Date();
  const t = Number.isNaN(d.getTime()) ? new Date() : d;
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${pad(t.getHours())}:${pad(t.getMinutes())}:${pad(t.getSeconds())}.${pad(t.getMilliseconds(), 3)}`;
}

function value(v: unknown): string {
  if (typeof v === 'string') return /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v);
  return v === undefined ? 'undefined' : JSON.stringify(v);
}

function errorText(err: LogError, withStack: boolean): string {
  const head = `${err.type ?? 'Error'}: ${err.message ?? ''}${err.code ? ` (${err.code})` : ''}`;
  if (!withStack || !err.stack) return head;
  const frames = err.stack.split('\n').filter((l) => /^\s+at /.test(l));
  return [head, ...frames.map((f) => `    ${f.trim()}`)].join('\n');
}

/**
 * One JSON log line -> one readable line (plus stack frames for an error at level error or
 * above). A line that is not a JSON object is returned unchanged.
 */
export function formatLogLine(line: string, colour = false): string {
  let entry: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(line);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return line;
    entry = parsed as Record<string, unknown>;
  } catch {
    return line;
  }
  const level = typeof entry.level === 'number' ? entry.level : 30;
  const paint = (code: string | undefined, s: string) =>
    colour && code ? `${code}${s}${RESET}` : s;
  const time = paint(DIM, clock(entry.time));
  const msg = typeof entry.msg === 'string' ? entry.msg : '';

  if (msg === 'request' && typeof entry.method === 'string' && typeof entry.path === 'string') {
    const status = typeof entry.status === 'number' ? entry.status : 0;
    const ms = typeof entry.ms === 'number' ? `${entry.ms.toFixed(1)}ms` : '';
    const statusText = paint(
      status >= 500 ? COLOURS[50] : status >= 400 ? COLOURS[40] : undefined,
      String(status),
    );
    return `${time} ${entry.method} ${entry.path} ${statusText} ${ms}\n`;
  }

  const parts: string[] = [];
  let stack = '';
  for (const [k, v] of Object.entries(entry)) {
    if (HEAD.has(k)) continue;
    if ((k === 'err' || k === 'error') && typeof v === 'object' && v !== null) {
      const text = errorText(v, level >= 50);
      const [first = '', ...rest] = text.split('\n');
      parts.push(`${k}=${JSON.stringify(first)}`);
      if (rest.length > 0) stack = `\n${rest.join('\n')}`;
      continue;
    }
    parts.push(`${k}=${value(v)}`);
  }
  const levelText = paint(COLOURS[level], LEVELS[level] ?? String(level));
  const role = typeof entry.role === 'string' ? `${paint(DIM, entry.role)} ` : '';
  const rest = parts.length > 0 ? `  ${paint(DIM, parts.join(' '))}` : '';
  return `${time} ${levelText} ${role}${msg}${rest}${stack}\n`;
}
