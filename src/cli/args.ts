import type { ParseArgsOptionsConfig } from 'node:util';

import { type KvqClient, MAX_WAIT_SECONDS, type WriteResult } from '../client/index.ts';
import { EXIT, exitCodeOfStatus } from './exit-codes.ts';
import { describeWrite, type Output } from './output.ts';

// What every command is given, and the helpers commands read their arguments with.

/** A command line the user got wrong: exit 2 with the command's help. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export type Values = Record<string, string | boolean | undefined>;

export interface CommandContext {
  client: KvqClient;
  values: Values;
  positionals: string[];
  out: Output;
  /** Reads standard input to its end (a put's value `-`). */
  readStdin(): Promise<string>;
}

export interface Command {
  name: string;
  summary: string;
  /** The help text after the global options' part. */
  help: string;
  options: ParseArgsOptionsConfig;
  /** Options that take an optional value (`--wait` or `--wait=5`). */
  optionalValue?: string[];
  run(ctx: CommandContext): Promise<number>;
}

export const WAIT_HELP = `--wait[=SECONDS]   answer once the write is applied (or failed), waiting up to SECONDS
                     (at most ${String(MAX_WAIT_SECONDS)}; --wait alone waits the longest)`;

/** `--wait` alone, `--wait=N` seconds, or undefined. */
export function waitOption(values: Values, max = MAX_WAIT_SECONDS): number | undefined {
  const w = values.wait;
  if (w === undefined) return undefined;
  if (w === '' || w === true) return max;
  if (typeof w !== 'string' || !/^\d{1,6}$/.test(w)) {
    throw new UsageError('--wait takes a whole number of seconds, e.g. --wait=5');
  }
  return Number(w);
}

export function stringOption(values: Values, name: string): string | undefined {
  const v = values[name];
  return typeof v === 'string' ? v : undefined;
}

export function intOption(
  values: Values,
  name: string,
  min: number,
  max: number,
): number | undefined {
  const v = stringOption(values, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < min || n > max) {
    throw new UsageError(
      max === Number.MAX_SAFE_INTEGER && min === 1
        ? `--${name} must be a positive integer, not "${v}"`
        : `--${name} must be a whole number from ${String(min)} to ${String(max)}, not "${v}"`,
    );
  }
  return n;
}

/** --if-match: a version (3 or "3", as an ETag) or *. */
export function ifMatchOption(values: Values): number | '*' | undefined {
  const v = stringOption(values, 'if-match');
  if (v === undefined) return undefined;
  if (v === '*') return '*';
  const m = /^"?(\d{1,15})"?$/.exec(v);
  if (!m?.[1]) throw new UsageError('--if-match takes a version (e.g. 3, or the ETag "3") or *');
  return Number(m[1]);
}

export function positional(ctx: CommandContext, index: number, name: string): string {
  const v = ctx.positionals[index];
  if (v === undefined) throw new UsageError(`missing <${name}>`);
  return v;
}

/** A key argument: present and not empty (the client refuses the rest, e.g. dot segments). */
export function keyArg(ctx: CommandContext, index: number): string {
  const key = positional(ctx, index, 'key');
  if (key === '') throw new UsageError('<key> is empty');
  return key;
}

export function noMore(ctx: CommandContext, count: number): void {
  const extra = ctx.positionals[count];
  if (extra !== undefined) throw new UsageError(`unexpected argument "${extra}"`);
}

/** Prints a write's answer; the exit code says whether a waited-for write was applied. */
export async function reportWrite(
  ctx: CommandContext,
  r: WriteResult,
  key: string,
  waited: boolean,
) {
  await ctx.out.result(r, () => describeWrite(r, key));
  return waited ? exitCodeOfStatus(r.outcome) : EXIT.OK;
}
