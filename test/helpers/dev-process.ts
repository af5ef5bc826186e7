import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { eventually } from './stack.ts';

/** The repository root (where `npm start` runs). */
export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Waits until none of `pids` is alive; returns those still alive after `ms`. */
export async function gone(pids: number[], ms: number): Promise<number[]> {
  await eventually(() => !pids.some(alive), ms, 20);
  return pids.filter(alive);
}

export interface DevProcess {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  dir: string;
  /** kvq's own pid (from JSON log lines) and its redis-server children's. */
  kvqPid(): number | undefined;
  redisPids(): number[];
  /** SIGKILLs whatever is left (the group, kvq, its Redis children) and removes the data dir. */
  cleanup(): Promise<void>;
}

/**
 * Starts `command args` (e.g. `npm start` or `node bin/kvq.js dev`) in its own process group, as
 * a terminal would, with its data in a fresh directory; logs are JSON (stdout is a pipe).
 */
export function startDevProcess(
  command: string,
  args: string[],
  env: Record<string, string>,
): DevProcess {
  const dir = mkdtempSync(join(tmpdir(), 'kvq-dev-'));
  const child = spawn(command, args, {
    cwd: ROOT,
    detached: true,
    env: { ...process.env, DEV_DATA_DIR: dir, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const kvqPid = () => {
    const m = /"role":"dev","pid":(\d+)/.exec(out);
    return m ? Number(m[1]) : undefined;
  };
  // JSON (`"redisPid":1`) or readable (`redisPid=1`) log lines.
  const redisPids = () =>
    [...out.matchAll(/"redisPid":(\d+)|redisPid=(\d+)/g)].map((m) => Number(m[1] ?? m[2]));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    dir,
    kvqPid,
    redisPids,
    async cleanup() {
      const pids = [kvqPid(), ...redisPids()].filter((p): p is number => p !== undefined);
      if (child.pid !== undefined && alive(child.pid)) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          // the group is gone already
        }
      }
      for (const p of pids.filter(alive)) process.kill(p, 'SIGKILL');
      await gone(pids, 5000);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
