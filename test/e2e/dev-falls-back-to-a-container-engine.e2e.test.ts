import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';

import { freePort } from '../../src/redis/index.ts';
import { alive, gone, ROOT } from '../helpers/dev-process.ts';
import { exitOf } from '../helpers/processes.ts';
import { eventually } from '../helpers/stack.ts';

/**
 * Without redis-server on PATH, `kvq dev` runs its two Redis in containers of a running engine:
 * docker first, then podman. No registry is reachable where CI runs, so a real engine cannot
 * pull the image: these tests put fake engines on PATH that record their arguments. A fake
 * "docker" whose daemon is down makes kvq try podman; one fake podman fails the pull, one starts
 * a real redis-server where the container would listen (and ends it on `rm -f`).
 */
const REDIS_SERVER = spawnSync('/bin/sh', ['-c', 'command -v redis-server'])
  .stdout.toString()
  .trim();
let dir = '';
const children: ChildProcess[] = [];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'kvq-engines-'));
});
afterEach(async () => {
  for (const c of children.splice(0)) {
    if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await exitOf(c);
  }
  // Whatever a fake container left running (only servers this test started, by pid file).
  for (const f of spawnSync('/bin/sh', ['-c', `ls ${dir}/bin/*.pid 2>/dev/null`])
    .stdout.toString()
    .split('\n')
    .filter(Boolean)) {
    const pid = Number(readFileSync(f, 'utf8').trim());
    if (pid > 0 && alive(pid)) process.kill(pid, 'SIGKILL');
    rmSync(f, { force: true });
  }
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** A bin directory holding `docker` (daemon down) and `podman` (running, `run` as given). */
function fakeEngines(podmanRun: string): string {
  const bin = join(dir, 'bin');
  rmSync(bin, { recursive: true, force: true });
  spawnSync('/bin/mkdir', ['-p', bin]);
  const write = (name: string, body: string) => {
    const file = join(bin, name);
    writeFileSync(file, `#!/bin/sh\necho "$*" >> ${bin}/${name}.log\n${body}\n`);
    chmodSync(file, 0o755);
  };
  write(
    'docker',
    'echo "Cannot connect to the Docker daemon at unix:///var/run/docker.sock" >&2; exit 1',
  );
  write(
    'podman',
    `case "$1" in
  info) exit 0 ;;
  run) ${podmanRun} ;;
  rm) shift 2; for n; do f="${bin}/$n.pid"; if [ -f "$f" ]; then read -r pid < "$f"; kill "$pid"; fi; done; exit 0 ;;
esac
exit 0`,
  );
  return bin;
}

function kvqDev(bin: string, env: Record<string, string> = {}) {
  const data = mkdtempSync(join(dir, 'data-'));
  const child = spawn(process.execPath, ['bin/kvq.js', 'dev'], {
    cwd: ROOT,
    // No redis-server: only the fake engines and node.
    env: {
      PATH: `${bin}:${dirname(process.execPath)}`,
      DEV_DATA_DIR: data,
      LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return { child, stdout: () => stdout, stderr: () => stderr };
}

const log = (bin: string, engine: string) =>
  readFileSync(join(bin, `${engine}.log`), 'utf8')
    .trim()
    .split('\n');

it('docker down, podman up but no registry: podman is tried, then one line with its error and the install hint', async () => {
  const bin = fakeEngines(
    'echo "Error: initializing source docker://redis:7.4: pinging container registry registry-1.docker.io: no such host" >&2; exit 125',
  );
  const dev = kvqDev(bin, { PORT: String(await freePort()) });
  expect((await exitOf(dev.child)).code).toBe(1);
  expect(dev.stderr().trim().split('\n')).toEqual([
    expect.stringMatching(
      /^kvq: podman could not start docker\.io\/library\/redis:7\.4 \(Error: initializing source .*no such host\); redis-server not found on PATH: install it/,
    ),
  ]);
  expect(log(bin, 'docker')).toEqual(['info']);
  const runs = log(bin, 'podman').filter((l) => l.startsWith('run '));
  expect(runs).toHaveLength(2);
  for (const r of runs) {
    expect(r).toMatch(
      /^run -d --rm --name kvq-dev-(queue|data)-\d+ -p 127\.0\.0\.1:\d+:6379 docker\.io\/library\/redis:7\.4 redis-server /,
    );
  }
  expect(runs.some((r) => r.includes('--maxmemory-policy noeviction'))).toBe(true);
});

it.skipIf(!REDIS_SERVER)(
  'a working engine: two containers on loopback ports serve the stack; Ctrl-C removes both',
  async () => {
    // The fake "container": a redis-server on the published port, its pid kept for `rm -f`.
    const bin = fakeEngines(
      `for a; do case "$a" in 127.0.0.1:*:6379) p="\${a#127.0.0.1:}"; p="\${p%:6379}" ;; esac; done
  ${REDIS_SERVER} --port "$p" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes --pidfile "${join(dir, 'bin')}/$5.pid" --logfile /dev/null
  echo "$5"; exit 0`,
    );
    const port = await freePort();
    const dev = kvqDev(bin, { PORT: String(port) });
    const up = await eventually(() => dev.stdout().includes('api listening'), 30_000, 50);
    expect(up, dev.stdout() + dev.stderr()).toBe(true);
    expect(dev.stdout()).toMatch(/queue Redis container started/);
    const url = `http://127.0.0.1:${String(port)}`;
    const put = await fetch(`${url}/v1/keys/in-a-container`, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/json', Prefer: 'wait=5' },
      body: '{"value":"yes"}',
    });
    expect(put.status).toBe(201);
    const pids = spawnSync('/bin/sh', ['-c', `cat ${bin}/*.pid`])
      .stdout.toString()
      .split('\n')
      .filter(Boolean)
      .map(Number);
    expect(pids).toHaveLength(2);
    dev.child.kill('SIGINT');
    expect((await exitOf(dev.child)).code).toBe(0);
    const removed = log(bin, 'podman').filter((l) => l.startsWith('rm -f '));
    expect(removed.sort()).toEqual([
      expect.stringMatching(/^rm -f kvq-dev-data-\d+$/),
      expect.stringMatching(/^rm -f kvq-dev-queue-\d+$/),
    ]);
    expect(await gone(pids, 5000)).toEqual([]);
  },
  60_000,
);

it.skipIf(!REDIS_SERVER)(
  'kill -9 of kvq dev: the watchdog removes both containers',
  async () => {
    const bin = fakeEngines(
      `for a; do case "$a" in 127.0.0.1:*:6379) p="\${a#127.0.0.1:}"; p="\${p%:6379}" ;; esac; done
  ${REDIS_SERVER} --port "$p" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes --pidfile "${join(dir, 'bin')}/$5.pid" --logfile /dev/null
  echo "$5"; exit 0`,
    );
    const dev = kvqDev(bin, { PORT: String(await freePort()) });
    const up = await eventually(() => dev.stdout().includes('api listening'), 30_000, 50);
    expect(up, dev.stdout() + dev.stderr()).toBe(true);
    dev.child.kill('SIGKILL');
    const removedNames = () =>
      log(bin, 'podman')
        .filter((l) => l.startsWith('rm -f '))
        .flatMap((l) => l.slice(6).split(' '))
        .sort();
    await eventually(() => removedNames().length === 2, 10_000, 50);
    expect(removedNames()).toEqual([
      expect.stringMatching(/^kvq-dev-data-\d+$/),
      expect.stringMatching(/^kvq-dev-queue-\d+$/),
    ]);
  },
  60_000,
);
