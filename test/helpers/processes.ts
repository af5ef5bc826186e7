import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const KVQ_BIN = fileURLToPath(new URL('../../src/bin/kvq.ts', import.meta.url));

/** Spawns `kvq <role>` as a child process; the caller ends it by PID. */
const spawned = new Set<ChildProcess>();
// A test that fails before stopping its child must not leave the process running.
process.once('exit', () => {
  for (const c of spawned) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

export function spawnRole(role: string, env: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, [KVQ_BIN, role], {
    env: { ...process.env, LOG_LEVEL: 'warn', WORKER_HEALTH_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  spawned.add(child);
  child.once('exit', () => spawned.delete(child));
  return child;
}

export function exitOf(
  child: ChildProcess,
): Promise<{ code: number | null; signal: string | null }> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

/** Collects a child's output (for assertions and for failure messages). */
export function output(child: ChildProcess): () => string {
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  return () => out;
}

export async function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM') {
  if (child.exitCode === null && child.signalCode === null && child.pid) child.kill(signal);
  return exitOf(child);
}
