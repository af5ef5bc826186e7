import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, inject, it } from 'vitest';

import { LOCK_FILE } from '../../src/bin/data-dir-lock.ts';
import { freePort } from '../../src/redis/index.ts';
import { ROOT } from '../helpers/dev-process.ts';
import { exitOf } from '../helpers/processes.ts';

/**
 * What a new user gets wrong before `kvq dev` runs gets one line naming what to change, exit 1
 * (2 for bad configuration), no stack trace, and nothing started.
 */
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function run(
  command: string,
  args: string[],
  env: Record<string, string>,
  prepare?: (dir: string) => void,
) {
  const dir = mkdtempSync(join(tmpdir(), 'kvq-preflight-'));
  dirs.push(dir);
  prepare?.(dir);
  const child: ChildProcess = spawn(command, args, {
    cwd: ROOT,
    env: { ...process.env, DEV_DATA_DIR: dir, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exit = await exitOf(child);
  return { code: exit.code, stdout, stderr, started: readdirSync(dir) };
}

const kvqDev = (env: Record<string, string>, prepare?: (dir: string) => void) =>
  run(process.execPath, ['bin/kvq.js', 'dev'], env, prepare);

const SYSTEM_NODE = '/usr/bin/node';
const oldNode =
  existsSync(SYSTEM_NODE) &&
  Number(spawnSync(SYSTEM_NODE, ['-p', 'process.versions.node.split(".")[0]']).stdout.toString()) <
    22;

describe.skipIf(!oldNode)('a Node older than 22.19', () => {
  const line = /^kvq needs Node >= 22\.19 \(found \d+\.\d+\.\d+\); see \.nvmrc/;

  it('bin/kvq.js says which Node it needs in one line, exit 1', async () => {
    const r = await run(SYSTEM_NODE, ['bin/kvq.js', 'dev'], {});
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(line)]);
  });

  it('npm start goes through bin/kvq.js: the same line, not "bad option"', async () => {
    const r = await run('npm', ['start'], { PATH: `/usr/bin:${process.env.PATH ?? ''}` });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(new RegExp(line.source.slice(1), 'm'));
    expect(r.stderr).not.toContain('bad option');
    expect(r.started).toEqual([]);
  });
});

describe('kvq dev before it starts anything', () => {
  it('a port in use: one line naming the port and PORT; no redis-server started', async () => {
    const taken: Server = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const address = taken.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    try {
      const r = await kvqDev({ PORT: String(port) });
      expect(r.code).toBe(1);
      expect(r.stderr.trim().split('\n')).toEqual([
        `kvq: port ${String(port)} on 127.0.0.1 is already in use; set PORT to a free port, e.g. PORT=8081`,
      ]);
      expect(r.stdout).not.toContain('redis-server started');
      expect(r.started).toEqual([]);
    } finally {
      taken.close();
    }
  });

  it('the api role with its port taken (found only when it listens): one line too', async () => {
    const taken: Server = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const address = taken.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    try {
      const r = await run(process.execPath, ['bin/kvq.js', 'api'], {
        PORT: String(port),
        QUEUE_REDIS_URL: inject('queueRedisUrl'),
        KV_REDIS_URL: inject('kvRedisUrl'),
        LOG_LEVEL: 'warn',
      });
      expect(r.code).toBe(1);
      expect(r.stderr.trim().split('\n')).toEqual([
        `kvq: port ${String(port)} on 127.0.0.1 is already in use; set PORT to a free port`,
      ]);
      expect(r.stdout + r.stderr).not.toMatch(/^\s+at /m);
    } finally {
      taken.close();
    }
  });

  it('an unreachable Redis URL: one line with host:port and cause, never the password', async () => {
    const closed = await freePort();
    const r = await kvqDev({
      PORT: String(await freePort()),
      QUEUE_REDIS_URL: `redis://app:hunter2@127.0.0.1:${String(closed)}`,
    });
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toEqual([
      `kvq: queue Redis at 127.0.0.1:${String(closed)} is unreachable (ECONNREFUSED); check QUEUE_REDIS_URL`,
    ]);
    expect(r.stdout + r.stderr).not.toContain('hunter2');
    expect(r.started).toEqual([]);
  });

  it.each([
    ['accepts and stays silent', 'no answer to PING within 1000 ms', () => undefined],
    [
      'is no Redis (an HTTP server)',
      'not a Redis server',
      (socket: Socket) => {
        socket.once('data', () => socket.end('HTTP/1.1 400 Bad Request\r\n\r\n'));
      },
    ],
  ])(
    'a Redis URL whose port %s: one line with host:port and cause, nothing started',
    async (_what, cause, onConnection) => {
      const impostor: Server = createServer(onConnection);
      await new Promise<void>((resolve) => impostor.listen(0, '127.0.0.1', resolve));
      const address = impostor.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      try {
        const r = await kvqDev({
          PORT: String(await freePort()),
          REDIS_CONNECT_TIMEOUT_MS: '1000',
          QUEUE_REDIS_URL: inject('queueRedisUrl'),
          KV_REDIS_URL: `redis://127.0.0.1:${String(port)}`,
        });
        expect(r.code).toBe(1);
        expect(r.stderr.trim().split('\n')).toEqual([
          `kvq: data Redis at 127.0.0.1:${String(port)} is unreachable (${cause}); check KV_REDIS_URL`,
        ]);
        expect(r.stdout).not.toContain('kvq is running');
        expect(r.started).toEqual([]);
      } finally {
        impostor.close();
        // A silent connection would keep close() waiting.
        impostor.unref();
      }
    },
  );

  it('a HOST that is no address and does not resolve: one line about HOST, not PORT', async () => {
    const r = await kvqDev({ PORT: String(await freePort()), HOST: 'not..a..host.invalid' });
    expect(r.code).toBe(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toEqual([
      expect.stringMatching(
        /^kvq: HOST "not\.\.a\.\.host\.invalid" is not an address or a name that resolves \(E[A-Z_]+\); set HOST to a local address, e\.g\. HOST=127\.0\.0\.1$/,
      ),
    ]);
    expect(r.started).toEqual([]);
  });

  it('DEV_DATA_DIR in use by another kvq dev: one line naming it and DEV_DATA_DIR; no redis-server started', async () => {
    // This test process stands in for the kvq dev that holds the directory.
    const r = await kvqDev({ PORT: String(await freePort()) }, (dir) => {
      writeFileSync(join(dir, LOCK_FILE), `${String(process.pid)}\n`);
    });
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(
        new RegExp(
          `^kvq: \\S+ is in use by another kvq dev \\(pid ${String(process.pid)}\\); stop that one, or set DEV_DATA_DIR to another directory$`,
        ),
      ),
    ]);
    expect(r.stdout).not.toContain('redis-server started');
    expect(r.started).toEqual([LOCK_FILE]);
  });

  it('bad configuration values are echoed, all at once, exit 2', async () => {
    const r = await kvqDev({ PORT: 'abc', DEV_WORKERS: '0' });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('PORT: expected a port number, got "abc"');
    expect(r.stderr).toContain('DEV_WORKERS: expected an integer from 1 to 16, got "0"');
    expect(r.stderr).not.toMatch(/^\s+at /m);
  });
});
