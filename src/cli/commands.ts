import { type DeadLetterSummary, type KeyListItem, MAX_WAIT_SECONDS } from '../client/index.ts';
import {
  type Command,
  ifMatchOption,
  intOption,
  keyArg,
  noMore,
  positional,
  reportWrite,
  stringOption,
  UsageError,
  WAIT_HELP,
  waitOption,
} from './args.ts';
import { EXIT, exitCodeOfStatus } from './exit-codes.ts';
import { deadLetterLine, describeDeadLetter, describeOp, jsonText } from './output.ts';

const get: Command = {
  name: 'get',
  summary: "print a key's value",
  help: `usage: kvq get <key> [--after <op-id>] [--replicated] [--json]

Prints the key's value as JSON; --json prints the whole record (value, version, times).
  --after <op-id>    read your write: wait until that op is finished, then read
  --replicated       answer only once the data Redis replicas (MIN_REPLICA_ACKS) have
                     what was read: as durable as an applied write`,
  options: { after: { type: 'string' }, replicated: { type: 'boolean' } },
  async run(ctx) {
    const key = keyArg(ctx, 0);
    noMore(ctx, 1);
    const record = await ctx.client.get(key, {
      after: stringOption(ctx.values, 'after'),
      consistency: ctx.values.replicated === true ? 'replicated' : undefined,
    });
    await ctx.out.result(record, () => jsonText(record.value));
    return EXIT.OK;
  },
};

const put: Command = {
  name: 'put',
  summary: 'create or replace a key',
  help: `usage: kvq put <key> <value|-> [options]

<value> is JSON (e.g. '{"a":1}', 42, '"text"'); text that is not JSON is stored as a string.
"-" reads the value from standard input.
  ${WAIT_HELP}
  --if-match <v>     write only if the key is at version v (or exists at all, with *)
  --if-none-match *  write only if the key does not exist
  --idempotency-key <k>  a retry with the same k returns the first op instead of writing again
  --ttl <seconds>    the key expires this many seconds after the write is applied
  --string           store <value> as a string as given, without reading it as JSON`,
  options: {
    wait: { type: 'string' },
    'if-match': { type: 'string' },
    'if-none-match': { type: 'string' },
    'idempotency-key': { type: 'string' },
    ttl: { type: 'string' },
    string: { type: 'boolean' },
  },
  optionalValue: ['wait'],
  async run(ctx) {
    const key = keyArg(ctx, 0);
    const raw = positional(ctx, 1, 'value');
    noMore(ctx, 2);
    const ifNoneMatch = stringOption(ctx.values, 'if-none-match');
    if (ifNoneMatch !== undefined && ifNoneMatch !== '*') {
      throw new UsageError('--if-none-match takes only *');
    }
    const wait = waitOption(ctx.values);
    const options = {
      wait,
      ifMatch: ifMatchOption(ctx.values),
      ifNoneMatch: ifNoneMatch === '*' ? ('*' as const) : undefined,
      idempotencyKey: stringOption(ctx.values, 'idempotency-key'),
      ttlSeconds: intOption(ctx.values, 'ttl', 1, Number.MAX_SAFE_INTEGER),
    };
    const text = raw === '-' ? await ctx.readStdin() : raw;
    const value =
      ctx.values.string !== true
        ? parseValue(text, raw === '-')
        : raw === '-'
          ? withoutFinalNewline(text)
          : text;
    const r = await ctx.client.put(key, value, options);
    return reportWrite(ctx, r, key, wait !== undefined);
  },
};

/** JSON text as its value; anything else as a string (from stdin, without its final newline). */
function parseValue(text: string, fromStdin: boolean): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return fromStdin ? withoutFinalNewline(text) : text;
  }
}

const withoutFinalNewline = (text: string) => text.replace(/\r?\n$/, '');

const del: Command = {
  name: 'del',
  summary: 'delete a key',
  help: `usage: kvq del <key> [options]
  ${WAIT_HELP}
  --if-match <v>     delete only if the key is at version v (or exists at all, with *)
  --idempotency-key <k>  a retry with the same k returns the first op`,
  options: {
    wait: { type: 'string' },
    'if-match': { type: 'string' },
    'idempotency-key': { type: 'string' },
  },
  optionalValue: ['wait'],
  async run(ctx) {
    const key = keyArg(ctx, 0);
    noMore(ctx, 1);
    const wait = waitOption(ctx.values);
    const r = await ctx.client.delete(key, {
      wait,
      ifMatch: ifMatchOption(ctx.values),
      idempotencyKey: stringOption(ctx.values, 'idempotency-key'),
    });
    return reportWrite(ctx, r, key, wait !== undefined);
  },
};

const ls: Command = {
  name: 'ls',
  summary: 'list keys (every page)',
  help: `usage: kvq ls [--prefix <p>] [--limit <n>] [--json]

Lists live keys in byte order, one a line, following every page; --json prints one array of
{key, version, updatedAt, expiresAt}.
  --prefix <p>       only keys starting with p
  --limit <n>        stop after n keys
  --page-size <n>    keys per request (1-1000, default 1000)`,
  options: {
    prefix: { type: 'string' },
    limit: { type: 'string' },
    'page-size': { type: 'string' },
  },
  async run(ctx) {
    noMore(ctx, 0);
    const limit = intOption(ctx.values, 'limit', 1, Number.MAX_SAFE_INTEGER);
    const prefix = stringOption(ctx.values, 'prefix');
    const pageSize = intOption(ctx.values, 'page-size', 1, 1000) ?? Math.min(limit ?? 1000, 1000);
    // For people, each page is printed as it arrives; --json prints one array at the end.
    const items: KeyListItem[] = [];
    let count = 0;
    let page: string[] = [];
    for await (const item of ctx.client.keys({ prefix, limit: pageSize })) {
      count++;
      if (ctx.out.json) items.push(item);
      else page.push(item.key);
      if (page.length >= pageSize) {
        await ctx.out.line(page.join('\n'));
        page = [];
      }
      if (limit !== undefined && count >= limit) break;
    }
    if (page.length > 0) await ctx.out.line(page.join('\n'));
    if (ctx.out.json) await ctx.out.result(items, () => '');
    return EXIT.OK;
  },
};

const ops: Command = {
  name: 'ops',
  summary: "show a write's receipt",
  help: `usage: kvq ops <op-id> [--wait[=SECONDS]] [--json]

Prints the op's receipt (status queued, active, applied, superseded, failed or dead).
  --wait[=SECONDS]   wait until the op is finished (default ${String(MAX_WAIT_SECONDS)} s); the exit code then says how
                     it ended: 0 applied, 7 superseded/failed/dead, 8 still pending`,
  options: { wait: { type: 'string' } },
  optionalValue: ['wait'],
  async run(ctx) {
    const id = positional(ctx, 0, 'op-id');
    noMore(ctx, 1);
    const wait = waitOption(ctx.values, MAX_WAIT_SECONDS);
    const op =
      wait === undefined
        ? await ctx.client.getOp(id)
        : await ctx.client.waitForOp(id, { timeoutMs: wait * 1000 });
    await ctx.out.result(op, () => describeOp(op));
    return wait === undefined ? EXIT.OK : exitCodeOfStatus(op.status);
  },
};

const dlq: Command = {
  name: 'dlq',
  summary: 'dead-lettered ops: ls, show, replay, discard',
  help: `usage: kvq dlq ls [--limit <n>] [--page-size <n>]
       kvq dlq show <op-id>
       kvq dlq replay <op-id> [--force] [--wait[=SECONDS]]
       kvq dlq replay --all [--prefix <p>] [--force]
       kvq dlq discard <op-id>

ls        dead-lettered ops, newest first: id, failed at, type, key, error
show      one dead letter with its original op (value included)
replay    write the dead op again as a new op (a new id and version); refused (exit 6) when
          the key accepted a later write, unless --force
discard   drop the dead letter (its receipt stays dead)
  --all              replay every dead letter (under --prefix); prints how many were replayed`,
  options: {
    limit: { type: 'string' },
    'page-size': { type: 'string' },
    force: { type: 'boolean' },
    wait: { type: 'string' },
    all: { type: 'boolean' },
    prefix: { type: 'string' },
  },
  optionalValue: ['wait'],
  async run(ctx) {
    const sub = positional(ctx, 0, 'ls|show|replay|discard');
    const { client, out, values } = ctx;
    if (sub === 'ls') {
      noMore(ctx, 1);
      const limit = intOption(values, 'limit', 1, Number.MAX_SAFE_INTEGER);
      const items: DeadLetterSummary[] = [];
      const pageSize = intOption(values, 'page-size', 1, 1000) ?? Math.min(limit ?? 1000, 1000);
      for await (const d of client.deadLetters({ limit: pageSize })) {
        items.push(d);
        if (limit !== undefined && items.length >= limit) break;
      }
      await out.result(items, () => items.map(deadLetterLine).join('\n'));
      return EXIT.OK;
    }
    if (sub === 'replay' && values.all === true) {
      noMore(ctx, 1);
      const r = await client.replayAllDeadLetters({
        prefix: stringOption(values, 'prefix'),
        force: values.force === true,
      });
      await out.result(r, () => `replayed ${String(r.retried)}, skipped ${String(r.skipped)}`);
      return EXIT.OK;
    }
    const id = positional(ctx, 1, 'op-id');
    noMore(ctx, 2);
    if (sub === 'show') {
      const d = await client.getDeadLetter(id);
      await out.result(d, () => describeDeadLetter(d));
      return EXIT.OK;
    }
    if (sub === 'replay') {
      const wait = waitOption(values);
      const r = await client.replayDeadLetter(id, { force: values.force === true, wait });
      return reportWrite(ctx, r, r.op?.key ?? '', wait !== undefined);
    }
    if (sub === 'discard') {
      await client.discardDeadLetter(id);
      await out.result({ discarded: id }, () => `discarded ${id}`);
      return EXIT.OK;
    }
    throw new UsageError(`unknown dlq command "${sub}" (ls, show, replay, discard)`);
  },
};

export const COMMANDS: readonly Command[] = [get, put, del, ls, ops, dlq];

/** Other names a command answers to. */
export const ALIASES: Readonly<Record<string, string>> = { delete: 'del', rm: 'del', list: 'ls' };
