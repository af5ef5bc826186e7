import { spawn } from 'node:child_process';

/**
 * Ends this process's local Redis children (processes and containers) if this process dies
 * without stopping them, e.g. on `kill -9`. A redis-server cannot watch its parent, so a small
 * `sh` does: it reads `pid <n>` and `ctr <name>` lines on a pipe from this process, and when the
 * pipe closes (which the kernel does however this process ends) it ends what it was told about.
 * On a clean stop the children are stopped first and the watchdog is ended before it fires.
 */
const SCRIPT = `pids=''; ctrs=''
while read -r kind id; do
  case $kind in pid) pids="$pids $id" ;; ctr) ctrs="$ctrs $id" ;; esac
done
[ -z "$pids" ] || kill $pids 2>/dev/null
[ -z "$ctrs" ] || "$1" rm -f $ctrs >/dev/null 2>&1
exit 0`;

export interface ChildWatchdog {
  /** The watchdog's own pid (tests). */
  readonly pid: number | undefined;
  watchPid(pid: number): void;
  /** A container the engine (docker or podman) must remove. */
  watchContainer(name: string): void;
  /** Ends the watchdog without it touching anything (after the children were stopped). */
  close(): void;
}

/** Starts the watchdog; `engine` is the container engine to remove containers with, if any. */
export function startChildWatchdog(engine = 'docker'): ChildWatchdog {
  // Its own process group, so a Ctrl-C does not end it before this process has stopped.
  const child = spawn('/bin/sh', ['-c', SCRIPT, 'kvq-watchdog', engine], {
    stdio: ['pipe', 'ignore', 'ignore'],
    detached: true,
  });
  child.on('error', () => undefined);
  child.stdin.on('error', () => undefined);
  // It must not keep this process alive.
  child.unref();
  const stdin = child.stdin as typeof child.stdin & { unref?: () => void };
  stdin.unref?.();
  let closed = false;
  const send = (line: string) => {
    if (!closed && child.stdin.writable) child.stdin.write(`${line}\n`);
  };
  return {
    pid: child.pid,
    watchPid: (pid) => {
      send(`pid ${String(pid)}`);
    },
    watchContainer: (name) => {
      send(`ctr ${name}`);
    },
    close: () => {
      if (closed) return;
      closed = true;
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}
