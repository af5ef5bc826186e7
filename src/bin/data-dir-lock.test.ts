import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, expect, it } from 'vitest';

import { LOCK_FILE, lockDataDir } from './data-dir-lock.ts';
import { StartupError } from './startup-checks.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const fresh = () => {
  const d = mkdtempSync(join(tmpdir(), 'kvq-lock-'));
  dirs.push(d);
  return d;
};

/** The PID of a process that has exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], {
    encoding: 'utf8',
  });
  return Number(r.stdout);
}

it('claims a free directory with this PID and gives it back on release', () => {
  const dir = join(fresh(), 'data');
  const release = lockDataDir(dir, '.kvq');
  expect(readFileSync(join(dir, LOCK_FILE), 'utf8').trim()).toBe(String(process.pid));
  release();
  expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
});

it('refuses a directory a live process holds, naming it and DEV_DATA_DIR, and leaves the claim', () => {
  const dir = fresh();
  // The parent of this test process: alive, and not this process.
  writeFileSync(join(dir, LOCK_FILE), `${String(process.ppid)}\n`);
  expect(() => lockDataDir(dir, '.kvq')).toThrow(StartupError);
  expect(() => lockDataDir(dir, '.kvq')).toThrow(
    `.kvq is in use by another kvq dev (pid ${String(process.ppid)}); stop that one, or set DEV_DATA_DIR to another directory`,
  );
  expect(readFileSync(join(dir, LOCK_FILE), 'utf8').trim()).toBe(String(process.ppid));
});

it('takes over a claim left by a process that is gone (kvq dev killed with -9)', () => {
  const dir = fresh();
  writeFileSync(join(dir, LOCK_FILE), `${String(deadPid())}\n`);
  const release = lockDataDir(dir, '.kvq');
  expect(readFileSync(join(dir, LOCK_FILE), 'utf8').trim()).toBe(String(process.pid));
  release();
});
