import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, expect, it } from 'vitest';

import { freePort } from '../../src/redis/index.ts';
import { exitOf, KVQ_BIN, output, stopChild } from '../helpers/processes.ts';
import { eventually } from '../helpers/stack.ts';

/**
 * `kvq dev --topology sentinel|cluster` starts two local topologies (queue and data), runs the
 * stack on their URLs, and Ctrl-C ends every process it started. Bad options exit 2.
 */
const dirs: string[] = [];
const children: ChildProcess[] = [];
afterAll(async () => {
  for (const c of children) await stopChild(c, 'SIGKILL');
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

function kvq(args: string[], env: Record<string, string> = {}): ChildProcess {
  const child = spawn(process.execPath, [KVQ_BIN, ...args], {
    env: { ...process.env, LOG_LEVEL: 'info', WORKER_HEALTH_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  return child;
}

async function startDev(topology: string) {
  const dir = mkdtempSync(join(tmpdir(), `kvq-dev-${topology}-`));
  dirs.push(dir);
  const port = await freePort();
  const child = kvq(['dev', '--topology', topology], { PORT: String(port), DEV_DATA_DIR: dir });
  const out = output(child);
  const url = `http://127.0.0.1:${String(port)}`;
  const up = await eventually(() => out().includes(`kvq is running at ${url}`), 40_000, 100);
  expect(up, out()).toBe(true);
  const pids = [...out().matchAll(/"pids":\[([\d,]+)\]/g)].flatMap((m) =>
    (m[1] ?? '').split(',').map(Number),
  );
  return { child, out, url, pids };
}

it('--topology sentinel: writes and reads work, and Ctrl-C ends all twelve Redis processes', async () => {
  const { child, out, url, pids } = await startDev('sentinel');
  expect(out()).toMatch(/queue Redis redis\+sentinel:\/\/[\d.:,]+\/kvq-queue/);
  expect(out()).toMatch(/data Redis redis\+sentinel:\/\/[\d.:,]+\/kvq-data/);
  const put = await fetch(`${url}/v1/keys/hello`, {
    method: 'PUT',
    headers: { 'Content-Type': 'application/json', Prefer: 'wait=5' },
    body: '{"value":"world"}',
  });
  expect(put.status).toBe(201);
  const get = await fetch(`${url}/v1/keys/hello`);
  expect(((await get.json()) as { value: string }).value).toBe('world');
  // Two sets of a primary, two replicas and three Sentinels.
  expect(pids).toHaveLength(12);
  expect(pids.every(alive)).toBe(true);
  expect((await stopChild(child, 'SIGINT')).code).toBe(0);
  expect(pids.filter(alive)).toEqual([]);
}, 60_000);

it('--topology cluster: two clusters; writes, waits, reads and listing work; Ctrl-C ends every node', async () => {
  const { child, out, pids, url } = await startDev('cluster');
  expect(out()).toMatch(/queue Redis redis\+cluster:\/\/(127\.0\.0\.1:\d+,){5}127\.0\.0\.1:\d+/);
  expect(out()).toMatch(/data Redis redis\+cluster:\/\//);
  for (const k of ['a', 'b', 'c', 'd']) {
    const put = await fetch(`${url}/v1/keys/${k}`, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/json', Prefer: 'wait=5' },
      body: JSON.stringify({ value: k }),
    });
    expect(put.status).toBe(201);
  }
  const list = await fetch(`${url}/v1/keys?limit=2`);
  expect(((await list.json()) as { items: { key: string }[] }).items.map((i) => i.key)).toEqual([
    'a',
    'b',
  ]);
  expect(pids).toHaveLength(12);
  expect(pids.every(alive)).toBe(true);
  await stopChild(child, 'SIGINT');
  expect(pids.filter(alive)).toEqual([]);
}, 60_000);

it('an unknown topology or an option for another role exits 2 with the usage', async () => {
  for (const args of [
    ['dev', '--topology', 'mesh'],
    ['dev', '--topology'],
    ['dev', '--verbose'],
    ['api', '--topology', 'cluster'],
  ]) {
    const child = kvq(args);
    const out = output(child);
    expect((await exitOf(child)).code, args.join(' ')).toBe(2);
    expect(out()).toMatch(/--topology must be one of standalone, cluster, sentinel|unknown option/);
    expect(out()).toContain('usage: kvq <role>');
  }
});
