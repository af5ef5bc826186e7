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

/** The installed binary's launcher: in a checkout it runs src/, elsewhere (no src/) dist/. */
export const KVQ_LAUNCHER = fileURLToPath(new URL('../../bin/kvq.js', import.meta.url));

/**
 * Runs `kvq <args>` (a client command) through bin/kvq.js, as a user does, to its end: exit code
 * and output. `input` is written to its standard input. The child is ended if it outlives
 * `timeoutMs`. KVQ_URL and KVQ_TOKEN are only those given in `env`.
 */
export async function runKvq(
  args: string[],
  opts: { env?: Record<string, string>; input?: string; timeoutMs?: number } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [KVQ_LAUNCHER, ...args], {
    env: { ...process.env, KVQ_URL: '', KVQ_TOKEN: '', ...opts.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  spawned.add(child);
  child.once('exit', () => spawned.delete(child));
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdin.end(opts.input ?? '');
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 20_000);
  const closed = new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c)));
  const code = await closed;
  clearTimeout(timer);
  return { code, stdout, stderr };
}
