import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';

import { StartupError } from './startup-checks.ts';

/** The file in DEV_DATA_DIR that names the `kvq dev` using it. */
export const LOCK_FILE = 'kvq-dev.pid';

function ownerOf(file: string): number | undefined {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, under another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Claims `dir` (DEV_DATA_DIR, shown as `shown`) for this process: two `kvq dev` on one directory
 * would run two redis-servers appending to the same AOF files. The claim is a file holding this
 * PID; one left by a process that is gone (killed with -9) is taken over. Throws a StartupError
 * naming the directory and DEV_DATA_DIR when a live process holds it. Returns the release.
 */
export function lockDataDir(dir: string, shown: string): () => void {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx');
      writeSync(fd, `${String(process.pid)}\n`);
      closeSync(fd);
      return () => {
        if (ownerOf(file) === process.pid) rmSync(file, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = ownerOf(file);
      if (owner !== undefined && owner !== process.pid && isAlive(owner)) {
        throw new StartupError(
          `${shown} is in use by another kvq dev (pid ${String(owner)}); stop that one, or set DEV_DATA_DIR to another directory`,
        );
      }
      rmSync(file, { force: true });
    }
  }
  throw new StartupError(
    `${shown} could not be claimed (${file}); set DEV_DATA_DIR to another directory`,
  );
}
