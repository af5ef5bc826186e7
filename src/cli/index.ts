import { readFileSync } from 'node:fs';
import type { Readable, Writable } from 'node:stream';
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';

import { createClient, isKvqError } from '../client/index.ts';
import { type Command, UsageError } from './args.ts';
import { ALIASES, COMMANDS } from './commands.ts';
import { EXIT, exitCodeOfError } from './exit-codes.ts';
import { createOutput } from './output.ts';

export { EXIT, type ExitCode } from './exit-codes.ts';

/** Where `kvq dev` and the API listen by default (HOST/PORT in the server's config). */
export const DEFAULT_URL = 'http://127.0.0.1:8080';

export interface CliIo {
  /** KVQ_URL and KVQ_API_KEY (or the older KVQ_TOKEN) are read from here. */
  env: Readonly<Record<string, string | undefined>>;
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
}

const GLOBAL_OPTIONS: ParseArgsOptionsConfig = {
  url: { type: 'string' },
  'api-key': { type: 'string' },
  token: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
};

const GLOBAL_HELP = `options for every command:
  --url <url>        the API (default: $KVQ_URL, else ${DEFAULT_URL})
  --api-key <key>    the API key, sent as a bearer token (default: $KVQ_API_KEY;
                     --token and $KVQ_TOKEN are older names for the same)
  --json             machine output: one JSON document on stdout (errors as {"error": {...}})
  -h, --help         this help

exit codes: 0 ok, 1 other error, 2 usage, 3 unavailable (503, unreachable, timeout),
  4 unauthorized or forbidden (401, 403), 5 not found, 6 condition failed (412/409), 7 a waited-for op was not
  applied (superseded, failed, dead), 8 a wait ended with the op still pending`;

/** The client commands `kvq` takes besides its server roles. */
export const CLI_COMMANDS: readonly string[] = [
  ...COMMANDS.map((c) => c.name),
  ...Object.keys(ALIASES),
];

/** The server roles, which src/bin/kvq.ts runs: `kvq help <role>` prints their usage there. */
export const SERVER_ROLES: readonly string[] = ['api', 'worker', 'dev', 'autoscaler'];
const ROLE_NAMES: readonly string[] = [...SERVER_ROLES, 'help'];

/**
 * Whether `kvq <argv>` is a client command rather than a server role: `kvq get k`,
 * `kvq help put`, `kvq --version`; also `kvq help <unknown>`, which is answered as a usage error.
 */
export function isCliInvocation(argv: readonly string[]): boolean {
  const [first = '', second] = argv;
  if (CLI_COMMANDS.includes(first) || ['--version', '-v', 'version'].includes(first)) return true;
  return (
    first === 'help' &&
    second !== undefined &&
    !second.startsWith('-') &&
    !ROLE_NAMES.includes(second)
  );
}

/** kvq's version, from package.json (one folder above src/ and dist/ alike). */
export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

function find(name: string): Command | undefined {
  const resolved = ALIASES[name] ?? name;
  return COMMANDS.find((c) => c.name === resolved);
}

export function commandHelp(command: Command): string {
  return `${command.help}\n\n${GLOBAL_HELP}\n`;
}

/** One line per command, for `kvq help`. */
export function commandSummary(): string {
  return COMMANDS.map((c) => `  ${c.name.padEnd(8)} ${c.summary}`).join('\n');
}

function readAll(stream: Readable): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    stream.setEncoding('utf8');
    stream.on('data', (d: string) => (text += d));
    stream.once('end', () => resolve(text));
    stream.once('error', reject);
  });
}

/**
 * `--wait` alone becomes `--wait=` (parseArgs has no options with an optional value); every
 * argument after `--` stays as it is.
 */
function withOptionalValues(args: string[], names: readonly string[]): string[] {
  const end = args.indexOf('--');
  return args.map((a, i) =>
    (end === -1 || i < end) && names.some((n) => a === `--${n}`) ? `${a}=` : a,
  );
}

/**
 * Runs a client command (`kvq get ...`, `kvq help get`, `kvq --version`) and answers its exit
 * code; see GLOBAL_HELP for what each code means.
 */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const [first, ...rest] = argv;
  const out0 = createOutput(false, io.stdout, io.stderr);
  if (first === '--version' || first === '-v' || first === 'version') {
    await out0.result(version(), () => `kvq ${version()}`);
    return EXIT.OK;
  }
  if (first === 'help') {
    const command = find(rest[0] ?? '');
    if (!command) {
      await out0.usage(
        `unknown command "${rest[0] ?? ''}"; the commands are:`,
        `${commandSummary()}\n\nserver roles: api, worker, dev, autoscaler (kvq help)`,
      );
      return EXIT.USAGE;
    }
    await out0.result(null, () => commandHelp(command));
    return EXIT.OK;
  }
  const command = find(first ?? '');
  if (!command) {
    await out0.usage(`unknown command "${first ?? ''}"`, commandSummary());
    return EXIT.USAGE;
  }

  let values: Record<string, string | boolean | undefined>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: withOptionalValues(rest, command.optionalValue ?? []),
      options: { ...GLOBAL_OPTIONS, ...command.options },
      allowPositionals: true,
      strict: true,
    }) as { values: Record<string, string | boolean | undefined>; positionals: string[] });
  } catch (err) {
    await out0.usage(err instanceof Error ? err.message : String(err), commandHelp(command));
    return EXIT.USAGE;
  }
  if (values.help === true) {
    await out0.result(null, () => commandHelp(command));
    return EXIT.OK;
  }
  const out = createOutput(values.json === true, io.stdout, io.stderr);
  const url = (typeof values.url === 'string' ? values.url : undefined) ?? io.env.KVQ_URL;
  const given = (v: unknown) => (typeof v === 'string' ? v : undefined);
  const token =
    given(values['api-key']) ?? given(values.token) ?? io.env.KVQ_API_KEY ?? io.env.KVQ_TOKEN;
  const base = url === undefined || url === '' ? DEFAULT_URL : url;
  if (!URL.canParse(base) || !/^https?:$/.test(new URL(base).protocol)) {
    await out.usage(`--url must be an http(s) URL, not "${base}"`, commandHelp(command));
    return EXIT.USAGE;
  }
  const client = createClient({ url: base, token: token === '' ? undefined : token });
  try {
    return await command.run({
      client,
      values,
      positionals,
      out,
      readStdin: () => readAll(io.stdin),
    });
  } catch (err) {
    if (err instanceof UsageError) {
      await out.usage(err.message, commandHelp(command));
      return EXIT.USAGE;
    }
    if (isKvqError(err)) {
      await out.error(err);
      return exitCodeOfError(err);
    }
    throw err;
  }
}
