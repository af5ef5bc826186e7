import { ReplyError } from 'ioredis';
import { describe, expect, it } from 'vitest';

import { formatLogLine } from './log-format.ts';
import { createLogger, logFormatFor } from './logger.ts';

function capture(format: 'json' | 'pretty') {
  const lines: string[] = [];
  const logger = createLogger('info', 'test', {
    format,
    destination: { write: (l: string) => lines.push(l) },
  });
  return { logger, lines };
}

describe('JSON logs', () => {
  it('one object per line with an ISO time and a single pid key', () => {
    const { logger, lines } = capture('json');
    logger.info({ url: 'redis://127.0.0.1:1', redisPid: 42 }, 'queue redis-server started');
    expect(lines).toHaveLength(1);
    const text = lines[0] ?? '';
    expect(text.match(/"pid":/g)).toHaveLength(1);
    const entry = JSON.parse(text) as Record<string, unknown>;
    expect(entry.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(entry).toMatchObject({ role: 'test', pid: process.pid, redisPid: 42 });
  });

  it('folds repeats of an unreachable-Redis error into one line with a count, no stack', () => {
    const { logger, lines } = capture('json');
    const refused = () =>
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
    for (let i = 0; i < 50; i++) logger.warn({ err: refused() }, 'reaper tick failed');
    logger.warn({ err: refused() }, 'reconcile failed');
    logger.error({ err: new Error('a bug') }, 'unexpected');
    logger.error({ err: new Error('a bug') }, 'unexpected');
    const entries = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(entries.map((e) => e.msg)).toEqual([
      'reaper tick failed',
      'reconcile failed',
      'unexpected',
      'unexpected',
    ]);
    expect(entries[0]).toMatchObject({ cause: 'connect ECONNREFUSED 127.0.0.1:1' });
    expect(entries[0]).not.toHaveProperty('err');
    // Errors that are not about reaching Redis keep their stack, every time.
    expect(entries[2]).toHaveProperty('err.stack');
  });

  it("logs a Redis reply error's command name, never its arguments (values, key digests)", () => {
    const { logger, lines } = capture('json');
    // As ioredis rejects a command: the reply error carries the command it answered.
    const err = Object.assign(
      new ReplyError('WRONGTYPE Operation against a key holding the wrong kind of value'),
      { command: { name: 'hgetall', args: ['kvq:{apikeys}:key:5ec7e7d1gest', '{"v":1}'] } },
    );
    logger.error({ err }, 'key lookup failed');
    logger.error({ error: err }, 'apply failed');
    expect(lines.join('')).not.toContain('5ec7e7d1gest');
    expect(lines.join('')).not.toContain('{\\"v\\":1}');
    for (const l of lines) {
      const entry = JSON.parse(l) as Record<string, { command?: unknown; message?: string }>;
      const e = entry.err ?? entry.error;
      expect(e?.command).toEqual({ name: 'hgetall' });
      expect(e?.message).toContain('WRONGTYPE');
    }
  });

  it('folds repeats of a reply that is not RESP (something other than Redis on the port)', () => {
    const { logger, lines } = capture('json');
    for (let i = 0; i < 20; i++) {
      logger.error({ err: new Error('Unknown RESP type 72 "H"') }, 'worker error');
    }
    const entries = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ msg: 'worker error', cause: 'Unknown RESP type 72 "H"' });
    expect(entries[0]).not.toHaveProperty('err');
  });
});

describe('readable logs', () => {
  it('on a terminal unless LOG_FORMAT says otherwise', () => {
    expect(logFormatFor(undefined, true)).toBe('pretty');
    expect(logFormatFor(undefined, false)).toBe('json');
    expect(logFormatFor('json', true)).toBe('json');
    expect(logFormatFor('pretty', false)).toBe('pretty');
  });

  it('a request is one line: time, method, path, status, ms', () => {
    const { logger, lines } = capture('pretty');
    logger.info(
      { method: 'PUT', path: '/v1/keys/a', status: 202, ms: 1.25, requestId: 'r1' },
      'request',
    );
    expect(lines).toEqual([
      expect.stringMatching(/^\d\d:\d\d:\d\d\.\d{3} PUT \/v1\/keys\/a 202 1\.\dms\n$/),
    ]);
  });

  it('other entries: time, level, role, message and the fields as key=value; an error with its stack', () => {
    const { logger, lines } = capture('pretty');
    logger.info({ url: 'http://127.0.0.1:8080', n: 3 }, 'api listening');
    logger.error({ err: new Error('boom') }, 'startup failed');
    expect(lines[0]).toMatch(
      /^\d\d:\d\d:\d\d\.\d{3} INFO {2}test api listening {2}url=http:\/\/127\.0\.0\.1:8080 n=3\n$/,
    );
    expect(lines[0]).not.toContain('pid=');
    const [head, ...frames] = (lines[1] ?? '').trimEnd().split('\n');
    expect(head).toMatch(/ERROR test startup failed {2}err="Error: boom"$/);
    expect(frames.length).toBeGreaterThan(0);
    expect(frames.every((f) => f.startsWith('    at '))).toBe(true);
  });

  it('leaves a line that is not a JSON object as it is', () => {
    expect(formatLogLine('not json')).toBe('not json');
    expect(formatLogLine('[1,2]')).toBe('[1,2]');
  });
});
