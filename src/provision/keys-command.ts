import type { Writable } from 'node:stream';
import { parseArgs } from 'node:util';

import {
  formatPrefixRule,
  parseDuration,
  parsePrefixRule,
  parseRateLimit,
  type Scope,
  SCOPES,
} from '../core/index.ts';
import {
  type ApiKeyStore,
  type AuditRecord,
  newApiKey,
  publicApiKey,
  type StoredApiKey,
} from '../store/index.ts';

/** Who the audit log names for a key created or revoked with `kvq keys` (no API key involved). */
export const KEYS_CLI_ACTOR = 'kvq-keys';

/** Records an action in the audit log; src/bin/keys.ts writes it to the data Redis. */
export type AuditKeysAction = (
  record: Pick<AuditRecord, 'action' | 'target' | 'outcome' | 'code'>,
) => Promise<void>;

/**
 * `kvq keys create|list|revoke`: provisioning that talks to the data Redis directly (KV_REDIS_URL),
 * so the first admin key needs no API and no key. src/bin/keys.ts builds the store. Not in
 * src/cli, which is built on the HTTP client alone.
 */

export const KEYS_HELP = `usage: kvq keys create --name NAME --scope read|write|admin [--prefix P]... [--expires-in 30d]
                       [--rate-limit N/s] [--file-entry] [--json]
       kvq keys list [--json]
       kvq keys revoke <id> [--json]

Talks to the data Redis directly (KV_REDIS_URL, KEY_PREFIX), no API needed.

create   prints the new key once, alone on the first line of stdout (then what it is, on stderr)
  --prefix P        the key may touch only keys starting with P (repeat it; longest prefix
                    wins, keys no prefix covers are denied); P=read (or =write, =none) sets
                    another scope under P. Not for admin keys.
  --expires-in D    e.g. 45m, 12h, 30d, 2w
  --rate-limit R    requests per second (N, N/s or N/m) for this key
  --file-entry      store nothing: print the key, then its API_KEYS_FILE entry (JSON) on stdout
list     every key in the data Redis (no secrets: a fingerprint of the digest)
revoke   the key stops working within KEY_CACHE_MS (revoking again changes nothing)`;

/** Exit codes as the client commands use them (src/cli/exit-codes.ts). */
const EXIT = { OK: 0, USAGE: 2, NOT_FOUND: 5 } as const;

export class KeysUsageError extends Error {
  override name = 'KeysUsageError';
}

interface Io {
  stdout: Writable;
  stderr: Writable;
}

const write = (stream: Writable, text: string) =>
  new Promise<void>((resolve, reject) => {
    stream.write(text, (err) => (err ? reject(err) : resolve()));
  });

/** Whether the command needs the data Redis (all but --help and --file-entry). */
export function keysNeedRedis(argv: readonly string[]): boolean {
  return !argv.includes('--file-entry') && !argv.includes('--help') && !argv.includes('-h');
}

function parseCreate(args: string[]) {
  const { values } = parseArgs({
    args,
    options: {
      name: { type: 'string' },
      scope: { type: 'string' },
      prefix: { type: 'string', multiple: true },
      'expires-in': { type: 'string' },
      'rate-limit': { type: 'string' },
      'file-entry': { type: 'boolean' },
      json: { type: 'boolean' },
    },
    strict: true,
  });
  if (!values.name) throw new KeysUsageError('--name is required');
  const scope = values.scope as Scope | undefined;
  if (!scope || !SCOPES.includes(scope)) {
    throw new KeysUsageError(`--scope must be one of ${SCOPES.join(', ')}`);
  }
  let prefixRules;
  try {
    prefixRules = values.prefix?.map((p) => parsePrefixRule(p, scope));
  } catch (err) {
    throw new KeysUsageError(`--prefix: ${err instanceof Error ? err.message : String(err)}`);
  }
  let expiresInSeconds: number | undefined;
  if (values['expires-in'] !== undefined) {
    expiresInSeconds = parseDuration(values['expires-in']);
    if (expiresInSeconds === undefined) {
      throw new KeysUsageError('--expires-in takes a duration such as 45m, 12h, 30d or 2w');
    }
  }
  let rateLimitPerSecond: number | undefined;
  if (values['rate-limit'] !== undefined) {
    rateLimitPerSecond = parseRateLimit(values['rate-limit']);
    if (rateLimitPerSecond === undefined) {
      throw new KeysUsageError('--rate-limit takes requests per second: N, N/s or N/m');
    }
  }
  try {
    const made = newApiKey({
      name: values.name,
      scope,
      prefixRules,
      expiresInSeconds,
      rateLimitPerSecond,
      now: Date.now(),
    });
    return { made, fileEntry: values['file-entry'] === true, json: values.json === true };
  } catch (err) {
    throw new KeysUsageError(err instanceof Error ? err.message : String(err));
  }
}

/** An API_KEYS_FILE entry for a key (what parseKeysFile reads). */
export function fileEntry(k: StoredApiKey): Record<string, unknown> {
  const e: Record<string, unknown> = { id: k.id, name: k.name, digest: k.digest, scope: k.scope };
  if (k.prefixRules) e.prefixes = k.prefixRules.map((r) => formatPrefixRule(r, k.scope));
  if (k.expiresAt !== undefined) e.expiresAt = new Date(k.expiresAt).toISOString();
  if (k.rateLimitPerSecond !== undefined) e.rateLimitPerSecond = k.rateLimitPerSecond;
  return e;
}

function describe(k: StoredApiKey): string {
  const parts = [`${k.id} "${k.name}"`, `scope ${k.scope}`];
  if (k.prefixRules) {
    parts.push(`prefixes ${k.prefixRules.map((r) => formatPrefixRule(r, k.scope)).join(' ')}`);
  }
  if (k.expiresAt !== undefined) parts.push(`expires ${new Date(k.expiresAt).toISOString()}`);
  if (k.rateLimitPerSecond !== undefined) parts.push(`${String(k.rateLimitPerSecond)}/s`);
  if (k.revokedAt !== undefined) parts.push(`REVOKED ${new Date(k.revokedAt).toISOString()}`);
  parts.push(`fingerprint ${publicApiKey(k).fingerprint}`);
  return parts.join(', ');
}

/** Runs `kvq keys <argv>`; `store` is built only when keysNeedRedis says so. */
export async function runKeys(
  argv: string[],
  io: Io,
  store: () => ApiKeyStore,
  audit: AuditKeysAction = () => Promise.resolve(),
): Promise<number> {
  const [sub, ...rest] = argv;
  try {
    if (sub === undefined || sub === 'help' || sub === '--help' || sub === '-h') {
      await write(io.stdout, `${KEYS_HELP}\n`);
      return sub === undefined ? EXIT.USAGE : EXIT.OK;
    }
    if (sub === 'create') {
      const { made, fileEntry: entryOnly, json } = parseCreate(rest);
      if (entryOnly) {
        await write(io.stdout, `${made.secret}\n${JSON.stringify(fileEntry(made.key))}\n`);
        return EXIT.OK;
      }
      await store().create(made.key);
      await audit({ action: 'key.create', target: made.key.id, outcome: 'ok' });
      if (json) {
        await write(
          io.stdout,
          `${JSON.stringify({ key: publicApiKey(made.key), secret: made.secret })}\n`,
        );
      } else {
        await write(io.stdout, `${made.secret}\n`);
        await write(
          io.stderr,
          `created ${describe(made.key)}\nThe key above is shown this once; kvq keeps only its SHA-256.\n`,
        );
      }
      return EXIT.OK;
    }
    if (sub === 'list') {
      const { values } = parseArgs({ args: rest, options: { json: { type: 'boolean' } } });
      const keys = await store().list();
      const text = values.json
        ? `${JSON.stringify({ items: keys.map(publicApiKey) })}\n`
        : keys.length === 0
          ? 'no API keys\n'
          : keys.map((k) => `${describe(k)}\n`).join('');
      await write(io.stdout, text);
      return EXIT.OK;
    }
    if (sub === 'revoke') {
      const { values, positionals } = parseArgs({
        args: rest,
        options: { json: { type: 'boolean' } },
        allowPositionals: true,
      });
      const [id, extra] = positionals;
      if (id === undefined || extra !== undefined)
        throw new KeysUsageError('revoke takes one <id>');
      const k = await store().revoke(id, Date.now());
      await audit(
        k
          ? { action: 'key.revoke', target: id, outcome: 'ok' }
          : { action: 'key.revoke', target: id, outcome: 'refused', code: 'API_KEY_NOT_FOUND' },
      );
      if (!k) {
        await write(io.stderr, `kvq: no API key ${id}\n`);
        return EXIT.NOT_FOUND;
      }
      await write(
        io.stdout,
        values.json ? `${JSON.stringify(publicApiKey(k))}\n` : `revoked ${describe(k)}\n`,
      );
      return EXIT.OK;
    }
    throw new KeysUsageError(`unknown keys command "${sub}"`);
  } catch (err) {
    if (
      err instanceof KeysUsageError ||
      (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')
    ) {
      await write(io.stderr, `kvq keys: ${(err as Error).message}\n\n${KEYS_HELP}\n`);
      return EXIT.USAGE;
    }
    throw err;
  }
}
