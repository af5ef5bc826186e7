import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Redis } from 'ioredis';

import type { RedisServer } from './local-servers.ts';

/**
 * What the local cluster and Sentinel launchers share: one-off commands to a node, waiting for a
 * condition, ending a node by PID and the working directory.
 */

export const HOST = '127.0.0.1';

/** A node's port, with the password it requires if any. */
export type Target = number | { port: number; password: string | undefined };

/** One command to one node, on a short-lived connection that never retries. */
export async function ask(target: Target, ...args: (string | number)[]): Promise<unknown> {
  const { port, password } =
    typeof target === 'number' ? { port: target, password: undefined } : target;
  const conn = new Redis({
    host: HOST,
    port,
    ...(password === undefined ? {} : { password }),
    lazyConnect: true,
    connectTimeout: 1000,
    commandTimeout: 1000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    protocol: 2,
  });
  conn.on('error', () => undefined);
  try {
    await conn.connect();
    const [name, ...rest] = args;
    return await conn.call(String(name), ...rest);
  } finally {
    conn.disconnect();
  }
}

/** `ask` each port in turn until one answers (a node may be dead or SIGSTOPped). */
export async function askAny(ports: Target[], ...args: (string | number)[]): Promise<unknown> {
  let last: unknown = new Error('no node to ask');
  for (const port of ports) {
    try {
      return await ask(port, ...args);
    } catch (e) {
      last = e;
    }
  }
  throw last;
}

export async function waitUntil(
  what: string,
  ms: number,
  ok: () => Promise<boolean>,
): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      if (await ok()) return;
    } catch {
      // not answering yet
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${String(ms)} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export const alive = (s: RedisServer) => s.child.exitCode === null && s.child.signalCode === null;

/** SIGTERM (after a SIGCONT, in case a fault stopped it), SIGKILL if it lingers. */
export async function stopServer(
  s: RedisServer,
  signal: NodeJS.Signals = 'SIGTERM',
): Promise<void> {
  if (!alive(s)) return;
  s.child.kill('SIGCONT');
  const force = setTimeout(() => s.child.kill('SIGKILL'), 5000);
  await s.stop(signal);
  clearTimeout(force);
}

export async function inSync(target: Target): Promise<boolean> {
  const info = String(await ask(target, 'INFO', 'replication'));
  return info.includes('role:master') || info.includes('master_link_status:up');
}

export function ownDir(
  dir: string | undefined,
  prefix: string,
): { dir: string; remove: () => void } {
  if (dir !== undefined) {
    mkdirSync(dir, { recursive: true });
    return { dir, remove: () => undefined };
  }
  const made = mkdtempSync(join(tmpdir(), prefix));
  return { dir: made, remove: () => rmSync(made, { recursive: true, force: true }) };
}
