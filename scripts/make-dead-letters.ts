/**
 * Makes real dead letters: writes that a worker could not apply within its attempt budget.
 * No API request can cause one on purpose, so this does what an operator could do by hand
 * (README, "Make a dead letter on purpose"): it makes the data Redis refuse writes for a moment,
 * as a primary does when it has fewer in-sync replicas than `min-replicas-to-write` asks for
 * (NOREPLICAS), writes the keys through the API, waits until each op's receipt says `dead`, and
 * restores the setting. Reads keep working meanwhile; ops accepted by others in that window die
 * too. A worker gives up after JOB_ATTEMPTS attempts, so a stack with a small budget (e.g.
 * JOB_ATTEMPTS=2) makes them quickly.
 *
 *   KV_REDIS_URL=redis://127.0.0.1:6380 [BASE_URL=http://127.0.0.1:8080] [API_TOKEN=…] \
 *     npm run postman:dead-letters [-- KEY…]
 *
 * Without keys it makes three under `postman-dlq/`, what the collection's "Dead letters" folder
 * takes for one run. Interrupted, it can leave the data Redis refusing writes: undo that with
 * `redis-cli -u $KV_REDIS_URL CONFIG SET min-replicas-to-write 0`.
 */
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';

import { Redis } from 'ioredis';

import { parseRedisUrl } from '../src/core/index.ts';

export interface DeadLetterMade {
  key: string;
  opId: string;
}

/** How long the ops may take to die (a default JOB_ATTEMPTS of 8 takes a few minutes). */
const DEFAULT_TIMEOUT_MS = 300_000;

export async function makeDeadLetters(opts: {
  baseUrl: string;
  token?: string | undefined;
  /** The data Redis (a standalone URL: its primary). */
  kvUrl: string;
  keys: readonly string[];
  timeoutMs?: number;
}): Promise<DeadLetterMade[]> {
  if (parseRedisUrl(opts.kvUrl).kind !== 'standalone') {
    throw new Error('make-dead-letters: KV_REDIS_URL must be a standalone redis:// URL');
  }
  const auth: Record<string, string> = opts.token ? { Authorization: `Bearer ${opts.token}` } : {};
  const redis = new Redis(opts.kvUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  const made: DeadLetterMade[] = [];
  try {
    const [, before] = (await redis.config('GET', 'min-replicas-to-write')) as [string, string];
    const replicas = /connected_slaves:(\d+)/.exec(await redis.info('replication'))?.[1] ?? '0';
    await redis.config('SET', 'min-replicas-to-write', String(Number(replicas) + 1));
    try {
      for (const key of opts.keys) {
        const res = await fetch(`${opts.baseUrl}/v1/keys/${key}`, {
          method: 'PUT',
          headers: { ...auth, 'Content-Type': 'application/json' },
          body: JSON.stringify({ value: { note: 'never applied: the data Redis refused it' } }),
        });
        const text = await res.text();
        if (res.status !== 202) throw new Error(`PUT ${key}: ${String(res.status)} ${text}`);
        made.push({ key, opId: (JSON.parse(text) as { op: { id: string } }).op.id });
      }
      const end = Date.now() + (opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
      for (const m of made) {
        for (;;) {
          const res = await fetch(`${opts.baseUrl}/v1/ops/${m.opId}`, {
            headers: { ...auth, Prefer: 'wait=30' },
          });
          const { op } = (await res.json()) as { op: { status: string } };
          if (op.status === 'dead') break;
          if (op.status !== 'queued' && op.status !== 'active') {
            throw new Error(`op ${m.opId} (${m.key}) ended ${op.status}, not dead`);
          }
          if (Date.now() > end) throw new Error(`op ${m.opId} (${m.key}) is still ${op.status}`);
        }
      }
    } finally {
      await redis.config('SET', 'min-replicas-to-write', before);
    }
  } finally {
    redis.disconnect();
  }
  return made;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const run = randomBytes(4).toString('hex');
  const given = process.argv.slice(2);
  const keys = given.length > 0 ? given : [1, 2, 3].map((i) => `postman-dlq/${run}-${String(i)}`);
  const baseUrl = process.env.BASE_URL ?? 'http://127.0.0.1:8080';
  const kvUrl = process.env.KV_REDIS_URL;
  if (!kvUrl) {
    console.error(
      'usage: KV_REDIS_URL=redis://… [BASE_URL=…] [API_TOKEN=…] make-dead-letters [KEY…]',
    );
    process.exit(2);
  }
  const made = await makeDeadLetters({ baseUrl, token: process.env.API_TOKEN, kvUrl, keys });
  for (const m of made) console.log(`dead: ${m.key} (op ${m.opId})`);
}
