import { readFileSync } from 'node:fs';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { apiKeyKeys } from '../../src/core/index.ts';
import { freePort } from '../../src/redis/index.ts';
import { createApiKeyStore, createLedger, type Ledger, newApiKey } from '../../src/store/index.ts';
import { runKvq } from '../helpers/processes.ts';
import { type Stack, startStack } from '../helpers/stack.ts';

/**
 * The `kvq` client commands end to end: the CLI spawned with node against a live stack (real
 * Redis), checked by stdout, stderr and exit codes, human and --json output, and usage errors.
 */

const TOKEN = 'cli-test-token';
let s: Stack;
let ledger: Ledger;
let env: Record<string, string>;

beforeAll(async () => {
  // No worker at first: the pending cases come first, then the worker starts.
  s = await startStack({ worker: false, env: { API_TOKENS: TOKEN, READ_AFTER_WAIT_MS: '300' } });
  env = { KVQ_URL: s.url, KVQ_TOKEN: TOKEN };
  ledger = createLedger({
    redis: s.queueRedis,
    layout: s.layout,
    retentionMs: 3_600_000,
    retentionCount: 100_000,
  });
});
afterAll(async () => {
  await s.stop();
});

const kvq = (args: string[], input?: string) =>
  runKvq(args, input === undefined ? { env } : { env, input });

/** Runs a command with --json and parses its stdout. */
async function kvqJson(args: string[]) {
  const r = await kvq([...args, '--json']);
  return { ...r, json: JSON.parse(r.stdout) };
}

describe('with no worker running (ops stay pending)', () => {
  it('put answers accepted (exit 0); waits that end with the op pending exit 8', async () => {
    const put = await kvq(['put', 'cli/pending', '1']);
    expect(put.code, put.stderr).toBe(0);
    expect(put.stdout).toMatch(/^accepted: put cli\/pending as version 1 \(op (\S+);/);
    const id = /op (\S+);/.exec(put.stdout)?.[1] ?? '';

    const ops = await kvq(['ops', id, '--wait=1']);
    expect(ops.code).toBe(8);
    expect(ops.stdout).toContain(`op ${id}: queued`);

    const waited = await kvqJson(['put', 'cli/pending', '2', '--wait=1']);
    expect(waited.code).toBe(8);
    expect(waited.json.outcome).toBe('accepted');
  }, 120_000);

  it('a read after a pending op: 503 OP_PENDING, exit 3, with Retry-After', async () => {
    const put = await kvqJson(['put', 'cli/pending-read', '1']);
    const id = put.json.op.id as string;
    const human = await kvq(['get', 'cli/pending-read', '--after', id]);
    expect(human.code).toBe(3);
    expect(human.stderr).toContain('OP_PENDING (503)');
    expect(human.stderr).toContain('retry after 1 s');
    const machine = await kvqJson(['get', 'cli/pending-read', '--after', id]);
    expect(machine.code).toBe(3);
    expect(machine.json.error).toMatchObject({ code: 'OP_PENDING', status: 503, retryAfter: 1 });
  }, 120_000);

  it('then a worker starts and ops --wait follows the op to applied (exit 0)', async () => {
    await s.startWorker();
    const list = await kvqJson(['ls', '--prefix', 'cli/pending']);
    expect(list.code).toBe(0);
    const ops = await kvqJson(['put', 'cli/pending', '3']);
    const done = await kvqJson(['ops', ops.json.op.id, '--wait=20']);
    expect(done.code).toBe(0);
    expect(done.json).toMatchObject({ id: ops.json.op.id, status: 'applied' });
  }, 120_000);
});

describe('keys', () => {
  it('put --wait, get (value; --json record), and values from arguments and stdin', async () => {
    const put = await kvq(['put', 'cli/a', '{"n":1}', '--wait']);
    expect(put.code, put.stderr).toBe(0);
    expect(put.stdout).toBe('applied: cli/a created at version 1\n');
    const again = await kvq(['put', 'cli/a', '{"n":2}', '--wait=10']);
    expect(again.stdout).toBe('applied: cli/a updated at version 2\n');

    const get = await kvq(['get', 'cli/a']);
    expect(get.code).toBe(0);
    expect(JSON.parse(get.stdout)).toEqual({ n: 2 });
    const record = await kvqJson(['get', 'cli/a']);
    expect(record.json).toMatchObject({ key: 'cli/a', value: { n: 2 }, version: 2 });

    await kvq(['put', 'cli/stdin', '-', '--wait'], '[1, 2, 3]\n');
    expect((await kvqJson(['get', 'cli/stdin'])).json.value).toEqual([1, 2, 3]);
    await kvq(['put', 'cli/text', '-', '--wait'], 'plain text\n');
    expect((await kvqJson(['get', 'cli/text'])).json.value).toBe('plain text');
    await kvq(['put', 'cli/str-stdin', '-', '--string', '--wait'], '{"a":1}\n');
    expect((await kvqJson(['get', 'cli/str-stdin'])).json.value).toBe('{"a":1}');
    await kvq(['put', 'cli/str', '42', '--string', '--wait']);
    expect((await kvqJson(['get', 'cli/str'])).json.value).toBe('42');
    await kvq(['put', 'cli/num', '42', '--wait']);
    expect((await kvqJson(['get', 'cli/num'])).json.value).toBe(42);
  }, 120_000);

  it('--ttl and --idempotency-key reach the API', async () => {
    const put = await kvqJson(['put', 'cli/ttl', '1', '--ttl', '600', '--wait']);
    expect(put.json.record.expiresAt).toBeTypeOf('string');
    const first = await kvqJson(['put', 'cli/idem', '1', '--idempotency-key', 'k1', '--wait']);
    const second = await kvqJson(['put', 'cli/idem', '1', '--idempotency-key', 'k1', '--wait']);
    expect(second.json.op.id).toBe(first.json.op.id);
    const reused = await kvqJson(['put', 'cli/idem', '2', '--idempotency-key', 'k1']);
    expect(reused.code).toBe(1);
    expect(reused.json.error.code).toBe('IDEMPOTENCY_KEY_REUSED');
  }, 120_000);

  it('conditions: a failed one exits 6, a matching one writes', async () => {
    expect((await kvq(['put', 'cli/cas', '1', '--if-none-match', '*', '--wait'])).code).toBe(0);
    const exists = await kvq(['put', 'cli/cas', '2', '--if-none-match', '*', '--wait']);
    expect(exists.code).toBe(6);
    expect(exists.stderr).toContain('PRECONDITION_FAILED (412)');
    expect((await kvq(['put', 'cli/cas', '2', '--if-match', '7', '--wait'])).code).toBe(6);
    const ok = await kvq(['put', 'cli/cas', '2', '--if-match', '"1"', '--wait']);
    expect(ok.code).toBe(0);
    expect((await kvq(['del', 'cli/cas', '--if-match', '1', '--wait'])).code).toBe(6);
    expect((await kvq(['del', 'cli/cas', '--if-match', '2', '--wait'])).code).toBe(0);
  }, 120_000);

  it('not found exits 5, in human and --json form', async () => {
    const human = await kvq(['get', 'cli/none']);
    expect(human.code).toBe(5);
    expect(human.stdout).toBe('');
    expect(human.stderr).toContain('KEY_NOT_FOUND (404)');
    const machine = await kvqJson(['get', 'cli/none']);
    expect(machine.code).toBe(5);
    expect(machine.json.error).toMatchObject({ code: 'KEY_NOT_FOUND', status: 404 });
    expect((await kvq(['ops', 'no-such-op'])).code).toBe(5);
  }, 120_000);

  it('del --wait deletes; del of a missing key exits 5', async () => {
    await kvq(['put', 'cli/del', '1', '--wait']);
    const del = await kvq(['del', 'cli/del', '--wait']);
    expect(del.code).toBe(0);
    expect(del.stdout).toBe('applied: cli/del deleted\n');
    expect((await kvq(['get', 'cli/del'])).code).toBe(5);
    expect((await kvq(['del', 'cli/del', '--wait'])).code).toBe(5);
    const queued = await kvqJson(['del', 'cli/a']);
    expect(queued.json).toMatchObject({ outcome: 'accepted', op: { type: 'delete' } });
  }, 120_000);

  it('a key with a "." or ".." segment is refused (exit 1, INVALID_KEY) and no other key changes', async () => {
    await kvq(['put', 'cli/dots/target', '1', '--wait']);
    for (const args of [
      ['del', 'cli/dots/tmp/../target', '--wait'],
      ['del', 'cli/dots/./target'],
      ['put', 'cli/dots/x/../target', '2', '--wait'],
      ['put', 'cli/dots/..', '2'],
      ['get', 'cli/dots/tmp/../target'],
    ]) {
      const r = await kvq(args);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr).toMatch(/^kvq: INVALID_KEY \(400\): the key has a "\." or "\.\." segment/);
    }
    const after = await kvqJson(['ls', '--prefix', 'cli/dots/']);
    expect(after.json).toMatchObject([{ key: 'cli/dots/target', version: 1 }]);
  }, 120_000);

  it('ls follows every page; --limit stops early; --json is one array', async () => {
    const keys = ['cli/ls/a', 'cli/ls/b', 'cli/ls/c', 'cli/ls/d', 'cli/ls/e'];
    for (const k of keys) await kvq(['put', k, '1', '--wait']);
    const all = await kvq(['ls', '--prefix', 'cli/ls/', '--page-size', '2']);
    expect(all.code).toBe(0);
    expect(all.stdout).toBe(`${keys.join('\n')}\n`);
    const limited = await kvq(['ls', '--prefix', 'cli/ls/', '--limit', '3', '--page-size', '2']);
    expect(limited.stdout).toBe(`${keys.slice(0, 3).join('\n')}\n`);
    const machine = await kvqJson(['ls', '--prefix', 'cli/ls/']);
    expect(machine.json.map((i: { key: string }) => i.key)).toEqual(keys);
    expect(machine.json[0]).toMatchObject({ key: 'cli/ls/a', version: 1 });
  }, 120_000);
});

describe('dead letters', () => {
  async function bury(key: string, value: unknown): Promise<string> {
    const opId = ledger.newOpId(key);
    await ledger.finish({
      opId,
      key,
      status: 'dead',
      attempts: 3,
      error: { code: 'DATA_UNAVAILABLE', message: 'data Redis: connect ECONNREFUSED' },
      deadLetter: {
        opId,
        key,
        type: 'put',
        version: 1,
        acceptedAt: Date.now(),
        value: JSON.stringify(value),
      },
    });
    return opId;
  }

  it('ls, show, replay --wait, discard; a gone one exits 5; replay --all', async () => {
    const a = await bury('clidl/a', 'va');
    const b = await bury('clidl/b', 'vb');
    const c = await bury('clidlall/c', 'vc');

    const ls = await kvq(['dlq', 'ls', '--page-size', '1']);
    expect(ls.code).toBe(0);
    const lines = ls.stdout.trim().split('\n');
    expect(lines.map((l) => l.split('\t')[0]).sort()).toEqual([a, b, c].sort());
    expect(lines.find((l) => l.startsWith(a))).toContain('clidl/a\tDATA_UNAVAILABLE');
    const machine = await kvqJson(['dlq', 'ls', '--limit', '2']);
    expect(machine.json).toHaveLength(2);

    const show = await kvq(['dlq', 'show', a]);
    expect(show.code).toBe(0);
    expect(show.stdout).toContain(`op        ${a}`);
    expect(show.stdout).toContain('"value": "va"');
    expect((await kvqJson(['dlq', 'show', a])).json.op.value).toBe('va');

    const replay = await kvq(['dlq', 'replay', a, '--wait']);
    expect(replay.code, replay.stderr).toBe(0);
    expect(replay.stdout).toBe('applied: clidl/a created at version 1\n');
    expect(JSON.parse((await kvq(['get', 'clidl/a'])).stdout)).toBe('va');
    expect((await kvq(['dlq', 'show', a])).code).toBe(5);

    await kvq(['put', 'clidl/b', '"newer"', '--wait']);
    await kvq(['put', 'clidl/b', '"newest"', '--wait']);
    const stale = await kvq(['dlq', 'replay', b]);
    expect(stale.code).toBe(6);
    expect(stale.stderr).toContain('NOT_REPLAYABLE');
    const discard = await kvq(['dlq', 'discard', b]);
    expect(discard.code).toBe(0);
    expect(discard.stdout).toBe(`discarded ${b}\n`);
    expect((await kvq(['dlq', 'discard', b])).code).toBe(5);

    const all = await kvqJson(['dlq', 'replay', '--all', '--prefix', 'clidlall/']);
    expect(all.json).toEqual({ retried: 1, skipped: 0 });
    expect((await kvq(['dlq', 'show', c])).code).toBe(5);
  }, 120_000);
});

describe('connection, auth and usage', () => {
  it('the token comes from --token or KVQ_TOKEN; none or a wrong one exits 4', async () => {
    const none = await runKvq(['get', 'cli/num'], { env: { KVQ_URL: s.url } });
    expect(none.code).toBe(4);
    expect(none.stderr).toContain('UNAUTHORIZED (401)');
    const flag = await runKvq(['get', 'cli/num', '--token', TOKEN], { env: { KVQ_URL: s.url } });
    expect(flag.code).toBe(0);
    const wrong = await kvq(['get', 'cli/num', '--token', 'wrong']);
    expect(wrong.code).toBe(4);
  }, 120_000);

  it('an API key from --api-key or KVQ_API_KEY; a key without the scope exits 4 (403)', async () => {
    const store = createApiKeyStore({ redis: s.kvRedis, keys: apiKeyKeys(s.config.KEY_PREFIX) });
    const reader = newApiKey({ name: 'cli-reader', scope: 'read', now: Date.now() });
    await store.create(reader.key);
    const only = { KVQ_URL: s.url };
    // Authenticated and allowed: the answer is the key's (not found, 5), not 401 (4).
    const viaEnv = await runKvq(['get', 'cli/none'], {
      env: { ...only, KVQ_API_KEY: reader.secret },
    });
    expect(viaEnv.code).toBe(5);
    const viaFlag = await runKvq(['get', 'cli/none', '--api-key', reader.secret], { env: only });
    expect(viaFlag.code).toBe(5);
    const wrong = await runKvq(['get', 'cli/none', '--api-key', `${reader.secret}x`], {
      env: only,
    });
    expect(wrong.code).toBe(4);
    // --api-key wins over the older KVQ_TOKEN.
    const write = await runKvq(['put', 'cli/by-reader', '1', '--api-key', reader.secret], { env });
    expect(write.code).toBe(4);
    expect(write.stderr).toContain('INSUFFICIENT_SCOPE (403)');
  }, 120_000);

  it('--url overrides KVQ_URL; a server that is not there exits 3', async () => {
    const port = await freePort();
    const r = await kvq(['get', 'cli/num', '--url', `http://127.0.0.1:${String(port)}`]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('UNREACHABLE');
    const viaFlag = await runKvq(['get', 'cli/num', '--url', s.url, '--token', TOKEN]);
    expect(viaFlag.code).toBe(0);
  }, 120_000);

  it.each([
    [['put', 'cli/x']],
    [['get']],
    [['get', 'a', 'b']],
    [['get', 'cli/num', '--bogus']],
    [['put', 'cli/x', '1', '--wait=soon']],
    [['put', 'cli/x', '1', '--if-none-match', '3']],
    [['put', 'cli/x', '1', '--if-match', 'abc']],
    [['ls', '--limit', '0']],
    [['dlq', 'frob', 'x']],
    [['dlq', 'show']],
    [['get', 'cli/num', '--url', 'ftp://example']],
    [['nosuch']],
    [['help', 'nosuch']],
    [['get', '']],
    [['del', '']],
    [['put', '', '1']],
    [['get', 'cli/num', '--url', 'nope']],
    [['get', 'cli/num', '--url', 'http://user:secret@127.0.0.1:1']],
  ])(
    'usage error %j exits 2 and says why on stderr',
    async (args) => {
      const r = await kvq(args);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/^kvq: /);
    },
    120_000,
  );

  it('usage errors say what is wrong in words a user typed', async () => {
    const cases: [string[], RegExp][] = [
      [['frob'], /^kvq: unknown command "frob"/],
      [['help', 'frob'], /^kvq: unknown command "frob"/],
      [['get', ''], /^kvq: <key> is empty/],
      [['ls', '--limit', '0'], /^kvq: --limit must be a positive integer, not "0"/],
      [['put', 'cli/x', '1', '--ttl', '0'], /^kvq: --ttl must be a positive integer, not "0"/],
      [['dlq', 'ls', '--limit', '1.5'], /^kvq: --limit must be a positive integer, not "1.5"/],
      [['get', 'k', '--url', 'http://u:secret@127.0.0.1:1'], /^kvq: INVALID_URL \(not sent\)/],
    ];
    for (const [args, message] of cases) {
      const r = await kvq(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toContain('secret');
    }
    // An unknown command lists the commands, and the server roles as well.
    for (const args of [['frob'], ['help', 'frob']]) {
      const { stderr } = await kvq(args);
      expect(stderr).toMatch(/\bget\b/);
      expect(stderr).toMatch(/\bdlq\b/);
      expect(stderr).toMatch(/\bworker\b/);
      expect(stderr).toMatch(/\bdev\b/);
    }
  }, 120_000);

  it('help: kvq help <command>, kvq <command> --help, and --version', async () => {
    const help = await kvq(['help', 'put']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('usage: kvq put <key> <value|->');
    expect(help.stdout).toContain('exit codes:');
    const flag = await kvq(['dlq', '--help']);
    expect(flag.code).toBe(0);
    expect(flag.stdout).toContain('usage: kvq dlq ls');
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
    const version = await kvq(['--version']);
    expect(version.stdout).toBe(`kvq ${pkg.version}\n`);
    const roles = await kvq(['help']);
    expect(roles.stdout).toContain('roles:');
    expect(roles.stdout).toContain('get, put, del, ls, ops, dlq');
  }, 120_000);
});
