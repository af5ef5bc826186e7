import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

import { afterAll, describe, expect, inject, it } from 'vitest';

import { freePort } from '../../src/redis/index.ts';
import { exitOf, KVQ_BIN, output, spawnRole, stopChild } from '../helpers/processes.ts';
import { eventually } from '../helpers/stack.ts';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('kvq dev (what npm start runs)', () => {
  it('starts two redis-servers, the API and a worker, prints the URL, and Ctrl-C stops them all', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kvq-dev-'));
    dirs.push(dir);
    const port = await freePort();
    const child = spawnRole('dev', { PORT: String(port), DEV_DATA_DIR: dir, LOG_LEVEL: 'info' });
    const out = output(child);
    try {
      const url = `http://127.0.0.1:${String(port)}`;
      const up = await eventually(() => out().includes(`kvq is running at ${url}`), 20_000, 50);
      expect(up, out()).toBe(true);
      const put = await fetch(`${url}/v1/keys/hello`, {
        method: 'PUT',
        headers: { 'Content-Type': 'application/json', Prefer: 'wait=5' },
        body: '{"value":"world"}',
      });
      expect(put.status).toBe(201);
      const get = await fetch(`${url}/v1/keys/hello`);
      expect(((await get.json()) as { value: string }).value).toBe('world');
      const pids = [
        ...out().matchAll(/"redisPid":(\d+),"dir":"[^"]*"[^\n]*redis-server started/g),
      ].map((m) => Number(m[1]));
      expect(pids).toHaveLength(2);
      expect(pids.every(alive)).toBe(true);

      const exit = await stopChild(child, 'SIGINT');
      expect(exit.code).toBe(0);
      expect(pids.some(alive)).toBe(false);
    } finally {
      await stopChild(child, 'SIGKILL');
    }
  }, 40_000);

  it('uses QUEUE_REDIS_URL and KV_REDIS_URL when they are set', async () => {
    const port = await freePort();
    const child = spawnRole('dev', {
      PORT: String(port),
      QUEUE_REDIS_URL: inject('queueRedisUrl'),
      KV_REDIS_URL: inject('kvRedisUrl'),
      KEY_PREFIX: 'devurls:',
      QUEUE_NAME: 'devurls',
      LOG_LEVEL: 'info',
    });
    const out = output(child);
    try {
      const up = await eventually(() => out().includes('kvq is running'), 20_000, 50);
      expect(up, out()).toBe(true);
      expect(out()).not.toContain('redis-server started');
      expect(out()).toContain(inject('queueRedisUrl'));
      expect((await stopChild(child, 'SIGTERM')).code).toBe(0);
    } finally {
      await stopChild(child, 'SIGKILL');
    }
  }, 30_000);

  it('HOST=0.0.0.0 without authentication: a warning line, and the banner says where it is bound', async () => {
    const port = await freePort();
    const child = spawnRole('dev', {
      PORT: String(port),
      HOST: '0.0.0.0',
      API_TOKENS: '',
      QUEUE_REDIS_URL: inject('queueRedisUrl'),
      KV_REDIS_URL: inject('kvRedisUrl'),
      KEY_PREFIX: 'devhost:',
      QUEUE_NAME: 'devhost',
      LOG_LEVEL: 'info',
    });
    const out = output(child);
    try {
      const up = await eventually(() => out().includes('kvq is running'), 20_000, 50);
      expect(up, out()).toBe(true);
      const p = String(port);
      // The banner is written directly; log lines go through pino's asynchronous stream and may
      // arrive after it.
      await eventually(
        () =>
          out().includes(`"listening":"0.0.0.0:${p}"`) &&
          out().includes(' without authentication (AUTH=off): '),
        10_000,
        50,
      );
      expect(out()).toContain(
        `"msg":"listening on 0.0.0.0:${p} without authentication (AUTH=off): anyone who can reach it can read and write every key; set AUTH=keys with API keys (docs/security.md), or HOST=127.0.0.1"`,
      );
      expect(out()).toContain(`"listening":"0.0.0.0:${p}"`);
      expect(out()).toContain(`kvq is running at http://127.0.0.1:${p}`);
      expect(out()).toContain(
        `listening on 0.0.0.0:${p}: reachable from the network, with no authentication (AUTH=off)!`,
      );
      expect((await stopChild(child, 'SIGTERM')).code).toBe(0);
    } finally {
      await stopChild(child, 'SIGKILL');
    }
  }, 30_000);

  it('without redis-server on PATH: one line saying how to install it, non-zero exit', async () => {
    const child = spawn(process.execPath, [KVQ_BIN, 'dev'], {
      env: { PATH: dirname(process.execPath), PORT: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out = output(child);
    const exit = await exitOf(child);
    expect(exit.code).toBe(1);
    const lines = out().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /redis-server not found.*apt-get install.*brew install redis.*docker run/,
    );
  });
});

describe('roles and configuration', () => {
  it('lists every configuration problem and exits 2 before connecting', async () => {
    const child = spawnRole('api', { QUEUE_REDIS_URL: 'http://nope', PORT: 'x', KV_REDIS_URL: '' });
    const out = output(child);
    expect((await exitOf(child)).code).toBe(2);
    expect(out()).toMatch(/QUEUE_REDIS_URL/);
    expect(out()).toMatch(/PORT/);
  });

  it('prints usage for help and exits 2 for an unknown role', async () => {
    const help = spawnRole('help', {});
    const out = output(help);
    expect((await exitOf(help)).code).toBe(0);
    expect(out()).toContain('usage: kvq <role>');
    const bad = spawnRole('nonsense', {});
    expect((await exitOf(bad)).code).toBe(2);
  });

  it('a worker serves /healthz and /readyz, and exits 0 on SIGTERM after closing its connections', async () => {
    const healthPort = await freePort();
    const w = spawnRole('worker', {
      QUEUE_REDIS_URL: inject('queueRedisUrl'),
      KV_REDIS_URL: inject('kvRedisUrl'),
      QUEUE_NAME: 'sigterm-test',
      LOG_LEVEL: 'info',
      HOST: '127.0.0.1',
      WORKER_HEALTH_PORT: String(healthPort),
    });
    const out = output(w);
    try {
      const started = await eventually(() => out().includes('worker started'), 15_000, 50);
      expect(started, out()).toBe(true);
      const h = `http://127.0.0.1:${String(healthPort)}`;
      expect((await fetch(`${h}/healthz`)).status).toBe(200);
      expect((await fetch(`${h}/readyz`)).status).toBe(200);
      expect((await fetch(`${h}/nope`)).status).toBe(404);
      const t = Date.now();
      const exit = await stopChild(w, 'SIGTERM');
      expect(exit.code).toBe(0);
      expect(Date.now() - t).toBeLessThan(10_000);
      expect(out()).toContain('shutting down');
    } finally {
      await stopChild(w, 'SIGKILL');
    }
  }, 30_000);

  it('an API exits 0 on SIGTERM', async () => {
    const port = await freePort();
    const a = spawnRole('api', {
      QUEUE_REDIS_URL: inject('queueRedisUrl'),
      KV_REDIS_URL: inject('kvRedisUrl'),
      PORT: String(port),
      LOG_LEVEL: 'info',
    });
    const out = output(a);
    try {
      expect(await eventually(() => out().includes('api listening'), 15_000, 50), out()).toBe(true);
      const ready = await fetch(`http://127.0.0.1:${String(port)}/readyz`);
      expect(ready.status).toBe(200);
      expect((await stopChild(a, 'SIGTERM')).code).toBe(0);
    } finally {
      await stopChild(a, 'SIGKILL');
    }
  }, 30_000);
});
