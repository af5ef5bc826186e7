import { connect } from 'node:net';
import { networkInterfaces } from 'node:os';

import { afterEach, expect, it } from 'vitest';

import { freePort } from '../../src/redis/index.ts';
import { alive, type DevProcess, gone, startDevProcess } from '../helpers/dev-process.ts';
import { exitOf } from '../helpers/processes.ts';
import { eventually } from '../helpers/stack.ts';

/**
 * `npm start` as a new user runs it: in a terminal's process group, where Ctrl-C sends SIGINT to
 * every process in the group, and npm passes its own SIGINT on to kvq as well. The dev stack
 * listens on loopback only (its API has no tokens), and one Ctrl-C (two SIGINTs for kvq) is one
 * clean stop: kvq drains, ends npm, kvq and both redis-server children promptly, exit 0, without
 * stack traces.
 */
let dev: DevProcess | undefined;
afterEach(async () => {
  await dev?.cleanup();
  dev = undefined;
});

/** ECONNREFUSED, or 'connected' if something accepts on host:port. */
function tryConnect(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const sock = connect({ host, port });
    sock.setTimeout(2000, () => {
      sock.destroy();
      resolve('timeout');
    });
    sock.once('connect', () => {
      sock.destroy();
      resolve('connected');
    });
    sock.once('error', (err: NodeJS.ErrnoException) => {
      resolve(err.code ?? err.message);
    });
  });
}

function nonLoopbackIPv4(): string | undefined {
  return Object.values(networkInterfaces())
    .flat()
    .find((a) => a?.family === 'IPv4' && !a.internal)?.address;
}

it('npm start: loopback only; Ctrl-C to the process group stops npm, kvq and both redis-servers', async () => {
  const port = await freePort();
  dev = startDevProcess('npm', ['start'], { PORT: String(port) });
  const d = dev;
  const up = await eventually(() => d.stdout().includes('api listening'), 30_000, 50);
  expect(up, d.stdout() + d.stderr()).toBe(true);
  const kvq = d.kvqPid();
  const redis = d.redisPids();
  expect(kvq).toBeDefined();
  expect(redis).toHaveLength(2);

  expect(await tryConnect('127.0.0.1', port)).toBe('connected');
  const external = nonLoopbackIPv4();
  if (external !== undefined) expect(await tryConnect(external, port)).toBe('ECONNREFUSED');

  // Some work in flight-ish: a write answered once applied.
  const put = await fetch(`http://127.0.0.1:${String(port)}/v1/keys/ctrl-c`, {
    method: 'PUT',
    headers: { 'Content-Type': 'application/json', Prefer: 'wait=5' },
    body: '{"value":1}',
  });
  expect(put.status).toBe(201);

  const all = [d.child.pid ?? -1, kvq ?? -1, ...redis];
  expect(all.every(alive)).toBe(true);
  const exited = exitOf(d.child);
  process.kill(-(d.child.pid ?? 0), 'SIGINT');
  // Well under kvq's shutdown deadline (SHUTDOWN_TIMEOUT_MS, 20 s): nothing waits on a dead Redis.
  expect(await gone(all, 5000)).toEqual([]);
  expect(d.stderr()).not.toMatch(/^\s+at /m);
  expect(d.stdout()).not.toContain('"level":50');
  expect(d.stdout()).toContain('"msg":"shutting down"');
  expect(d.stdout()).not.toContain('second signal');
  expect(await exited, d.stdout() + d.stderr()).toEqual({ code: 0, signal: null });
}, 60_000);
