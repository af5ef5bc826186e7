/**
 * `npm run test:postman`: runs the Postman collection with newman against a running stack, once
 * in collection order and then each request alone (newman's `folder` option on the request's
 * name), and checks that the runs left no key behind. The dead-letter requests need real dead
 * letters: they are made first (scripts/make-dead-letters.ts), one set per run, each under its
 * own `deadLetterPrefix`.
 *
 * Without BASE_URL it starts the stack itself: a data redis-server, then `kvq dev` (which starts
 * the queue Redis) on a free loopback port with a small attempt budget, so that a refused write
 * dies quickly; everything it started is stopped at the end. With BASE_URL (and API_TOKEN) it
 * uses that server; KV_REDIS_URL (the same data Redis, standalone) is then needed to make dead
 * letters, and without it the dead-letter requests are left out, said so, and the run fails
 * unless POSTMAN_SKIP_DEAD_LETTERS=1. Exit 1 on any failed assertion.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import newman from 'newman';
import type { CollectionDefinition, VariableScopeDefinition } from 'postman-collection';

import { freePort, type RedisServer, startRedisServer } from '../src/redis/index.ts';
import { makeDeadLetters } from './make-dead-letters.ts';
import { waitReady } from './wait-ready.ts';

const root = fileURLToPath(new URL('../', import.meta.url));
// Read once: newman would otherwise read and parse the file again for each of its runs.
const collectionText: unknown = JSON.parse(
  readFileSync(join(root, 'postman/kvq.postman_collection.json'), 'utf8'),
);
const collectionJson = collectionText as CollectionDefinition;
/** The folders and requests, by name. */
const outline = collectionText as { item: { name: string; item: { name: string }[] }[] };
const environmentJson = JSON.parse(
  readFileSync(join(root, 'postman/local.postman_environment.json'), 'utf8'),
) as VariableScopeDefinition;
const DEAD_LETTER_FOLDER = 'Dead letters';
/** Dead letters the folder takes in collection order: one replayed, one discarded, one more. */
const FULL_RUN_DEAD_LETTERS = 3;

interface Target {
  baseUrl: string;
  token: string;
  kvUrl: string | undefined;
}

/** Runs newman; returns its failures as lines (empty: all passed). */
function runNewman(
  t: Target,
  vars: Record<string, string>,
  opts: { folder?: string | string[]; verbose: boolean },
): Promise<string[]> {
  return new Promise((resolve) => {
    newman.run(
      {
        collection: collectionJson,
        environment: environmentJson,
        envVar: Object.entries({ baseUrl: t.baseUrl, token: t.token, ...vars }).map(
          ([key, value]) => ({ key, value }),
        ),
        ...(opts.folder === undefined ? {} : { folder: opts.folder }),
        reporters: opts.verbose ? ['cli'] : [],
        timeoutRequest: 30_000,
      },
      (err, summary) => {
        if (err) {
          resolve([`newman: ${err.message}`]);
          return;
        }
        resolve(
          summary.run.failures.map(
            (f) =>
              `${f.source ? f.source.name : '?'}: ${f.error.test || f.error.name}: ${f.error.message}`,
          ),
        );
      },
    );
  });
}

async function api(
  t: Target,
  method: string,
  path: string,
): Promise<{ status: number; body: unknown }> {
  const res = await fetch(t.baseUrl + path, {
    method,
    headers: t.token ? { Authorization: `Bearer ${t.token}` } : {},
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as unknown) : undefined };
}

interface Page<I> {
  items: I[];
  nextCursor: string | null;
}

/** Live keys under `prefix` (at most a page: any at all is a leak). */
async function keysUnder(t: Target, prefix: string): Promise<string[]> {
  const r = await api(t, 'GET', `/v1/keys?prefix=${encodeURIComponent(prefix)}&limit=100`);
  if (r.status !== 200) throw new Error(`GET /v1/keys: ${String(r.status)}`);
  return (r.body as Page<{ key: string }>).items.map((i) => i.key);
}

/** Discards the dead letters under `prefix` that no request used; returns how many. */
async function discardDeadLetters(t: Target, prefix: string): Promise<number> {
  const ids: string[] = [];
  let cursor: string | null = null;
  do {
    const q: string = cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`;
    const r = await api(t, 'GET', `/v1/dlq?limit=1000${q}`);
    if (r.status !== 200) throw new Error(`GET /v1/dlq: ${String(r.status)}`);
    const page = r.body as Page<{ id: string; key: string }>;
    for (const d of page.items) if (d.key.startsWith(prefix)) ids.push(d.id);
    cursor = page.nextCursor;
  } while (cursor !== null);
  let n = 0;
  for (const id of ids) if ((await api(t, 'DELETE', `/v1/dlq/${id}`)).status === 204) n++;
  return n;
}

async function run(t: Target): Promise<number> {
  const collection = outline;
  const runId = randomBytes(4).toString('hex');
  const keyPrefix = `postman/${runId}/`;
  const dlqBase = `postman-dlq/${runId}/`;
  const withDeadLetters = t.kvUrl !== undefined;
  const requests = collection.item.flatMap((f) =>
    f.item.map((r) => ({ name: r.name, deadLetters: f.name === DEAD_LETTER_FOLDER })),
  );
  const isolated = requests.filter((r) => withDeadLetters || !r.deadLetters);
  const failures: string[] = [];

  if (t.kvUrl !== undefined) {
    const keys = [
      ...Array.from({ length: FULL_RUN_DEAD_LETTERS }, (_, i) => `${dlqBase}full/${String(i)}`),
      ...requests.flatMap((r, i) => (r.deadLetters ? [`${dlqBase}r${String(i)}/0`] : [])),
    ];
    const started = Date.now();
    await makeDeadLetters({ baseUrl: t.baseUrl, token: t.token, kvUrl: t.kvUrl, keys });
    console.log(`made ${String(keys.length)} dead letters in ${String(Date.now() - started)} ms`);
  } else {
    console.log(
      `KV_REDIS_URL not set: no dead letters can be made, so the "${DEAD_LETTER_FOLDER}" requests are left out`,
    );
  }

  console.log('\n== the whole collection, in order');
  failures.push(
    ...(await runNewman(
      t,
      { keyPrefix, deadLetterPrefix: `${dlqBase}full/` },
      {
        verbose: true,
        ...(withDeadLetters
          ? {}
          : {
              folder: collection.item.map((f) => f.name).filter((n) => n !== DEAD_LETTER_FOLDER),
            }),
      },
    )),
  );

  const aloneStarted = Date.now();
  console.log(`\n== each request alone (${String(isolated.length)} runs)`);
  for (const r of isolated) {
    const i = requests.indexOf(r);
    const got = await runNewman(
      t,
      { keyPrefix, deadLetterPrefix: `${dlqBase}r${String(i)}/` },
      { folder: r.name, verbose: false },
    );
    console.log(`${got.length === 0 ? 'ok  ' : 'FAIL'} ${r.name}`);
    for (const f of got) console.log(`       ${f}`);
    failures.push(...got.map((f) => `alone: ${f}`));
  }
  console.log(`${String(isolated.length)} runs in ${String(Date.now() - aloneStarted)} ms`);

  console.log('\n== nothing left behind');
  const left = [...(await keysUnder(t, keyPrefix)), ...(await keysUnder(t, dlqBase))];
  if (left.length > 0) failures.push(`keys left behind: ${left.join(', ')}`);
  // Dead letters made for requests that only read them (list, read) are the harness's own.
  const discarded = await discardDeadLetters(t, dlqBase);
  console.log(
    `keys under ${keyPrefix} and ${dlqBase}: ${String(left.length)}; unused dead letters discarded: ${String(discarded)}`,
  );

  if (failures.length > 0) {
    console.error(`\n${String(failures.length)} failure(s):\n${failures.join('\n')}`);
    return 1;
  }
  if (!withDeadLetters && process.env.POSTMAN_SKIP_DEAD_LETTERS !== '1') {
    console.error('\nthe dead-letter requests did not run (set KV_REDIS_URL)');
    return 1;
  }
  console.log('\nall Postman runs passed');
  return 0;
}

let code: number;
const external = process.env.BASE_URL;
if (external) {
  const t = {
    baseUrl: external,
    token: process.env.API_TOKEN ?? '',
    kvUrl: process.env.KV_REDIS_URL,
  };
  code = (await waitReady(external, 30_000)) ? await run(t) : 1;
} else {
  const dir = mkdtempSync(join(tmpdir(), 'kvq-postman-'));
  const port = await freePort();
  const token = 'postman-test-token';
  let data: RedisServer | undefined;
  let child: ReturnType<typeof spawn> | undefined;
  try {
    data = await startRedisServer({ dir: join(dir, 'data'), appendonly: false });
    child = spawn(process.execPath, [join(root, 'src/bin/kvq.ts'), 'dev'], {
      env: {
        ...process.env,
        PORT: String(port),
        HOST: '127.0.0.1',
        DEV_DATA_DIR: dir,
        KV_REDIS_URL: data.url,
        LOG_LEVEL: 'fatal',
        API_TOKENS: token,
        // A refused write dies after two attempts instead of eight.
        JOB_ATTEMPTS: '2',
        JOB_BACKOFF_MS: '100',
      },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    const url = `http://127.0.0.1:${String(port)}`;
    code = (await waitReady(url, 30_000)) ? await run({ baseUrl: url, token, kvUrl: data.url }) : 1;
  } finally {
    if (child) {
      const exited = new Promise((r) => child?.once('exit', r));
      child.kill('SIGINT');
      await exited;
    }
    await data?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
process.exit(code);
