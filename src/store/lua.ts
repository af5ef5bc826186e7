import { readFileSync } from 'node:fs';

import type { Cluster, Redis } from 'ioredis';

type ScriptArg = string | number | Buffer;
export type LuaScript<R> = (keys: string[], args: ScriptArg[]) => Promise<R>;

const sources = new Map<string, string>();

const read = (name: string) => readFileSync(new URL(`./lua/${name}.lua`, import.meta.url), 'utf8');

/** Reads a script that sits beside this file (the build copies *.lua into dist). */
function source(name: string): string {
  let s = sources.get(name);
  if (s === undefined) {
    // Every script starts with the shared preamble (clock and argument checks).
    s = read('_preamble') + read(name);
    sources.set(name, s);
  }
  return s;
}

/**
 * Binds a Lua script to a client via ioredis `defineCommand`, which runs EVALSHA and falls back
 * to EVAL on NOSCRIPT (after a Redis restart the script cache is empty).
 */
export function defineScript<R>(
  redis: Redis | Cluster,
  name: string,
  numberOfKeys: number,
): LuaScript<R> {
  const command = `kvq_${name}`;
  const target = redis as unknown as Record<string, (...a: ScriptArg[]) => Promise<R>>;
  if (typeof target[command] !== 'function') {
    redis.defineCommand(command, { numberOfKeys, lua: source(name) });
  }
  return (keys, args) => {
    if (keys.length !== numberOfKeys) throw new Error(`${name}: expected ${numberOfKeys} keys`);
    const fn = target[command];
    if (!fn) throw new Error(`${name}: script not defined`);
    return fn.call(redis, ...keys, ...args);
  };
}
