import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';

import { Queue, UnrecoverableError, Worker } from 'bullmq';
import { type Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  type JobPayload,
  type KeyLayout,
  keyLayout,
  loadConfig,
  slotOf,
} from '../../src/core/index.ts';
import {
  closeClient,
  createRedisClient,
  type LocalCluster,
  startRedisCluster,
  waitReady,
} from '../../src/redis/index.ts';
import {
  createDeadLetters,
  createLedger,
  createRecordStore,
  type DeadLetters,
  type Ledger,
  type RecordStore,
} from '../../src/store/index.ts';
import { call, eventually, type Stack, startStack } from '../helpers/stack.ts';

/**
 * kvq on a real 3-primary / 3-replica Redis Cluster (one cluster holds both roles here: the queue
 * and data keys have different names under the same prefix). Every Lua script runs on every
 * primary without CROSSSLOT; every HTTP route works over keys of all partitions; and with
 * MIN_REPLICA_ACKS=1 the replica of a key's slot already holds what a 2xx or an `applied` receipt
 * reported, read the moment the answer arrives. No node ever answers CROSSSLOT.
 */
const config = loadConfig({});
let cluster: LocalCluster;
let client: Cluster;
/** Primary port -> its replica's port (no failover happens in this file). */
const replicaOfPrimary = new Map<number, number>();
const replicaConns = new Map<number, Redis>();

function direct(port: number): Redis {
  const r = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 1 });
  r.on('error', () => undefined);
  return r;
}

beforeAll(async () => {
  cluster = await startRedisCluster({ primaries: 3, replicasPer: 1 });
  client = createRedisClient(cluster.url, 'command', config, 't-store') as Cluster;
  expect(await waitReady(client, 10_000)).toBe(true);
  for (const n of cluster.nodes) {
    const r = direct(n.port);
    try {
      const role = (await r.role()) as [string, string, number];
      if (role[0] === 'slave') replicaOfPrimary.set(role[2], n.port);
    } finally {
      r.disconnect();
    }
  }
  expect(replicaOfPrimary.size).toBe(3);
}, 60_000);

afterAll(async () => {
  for (const r of replicaConns.values()) r.disconnect();
  await closeClient(client);
  const pids = cluster.nodes.map((n) => n.pid);
  await cluster.stop();
  for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow(/ESRCH/);
}, 30_000);

/** A READONLY connection to the replica of the slot that holds `redisKey`. */
async function replicaOf(redisKey: string): Promise<Redis> {
  const primary = await cluster.primaryOf(slotOf(redisKey));
  const port = replicaOfPrimary.get(primary.port);
  if (port === undefined) throw new Error(`no replica for primary ${String(primary.port)}`);
  let r = replicaConns.get(port);
  if (!r) {
    r = direct(port);
    await r.readonly();
    replicaConns.set(port, r);
  }
  return r;
}

/** The port of the primary that serves every Redis key of `userKey`'s partition. */
async function primaryPortOf(layout: KeyLayout, userKey: string): Promise<number> {
  return (await cluster.primaryOf(slotOf(layout.queue(layout.of(userKey)).version(userKey)))).port;
}

/** One user key per primary: `${prefix}${n}` for the first n that lands on each. */
async function keyPerPrimary(layout: KeyLayout, prefix: string): Promise<string[]> {
  const byPort = new Map<number, string>();
  for (let n = 0; byPort.size < 3; n++) {
    const k = `${prefix}${String(n)}`;
    const port = await primaryPortOf(layout, k);
    if (!byPort.has(port)) byPort.set(port, k);
  }
  return [...byPort.values()];
}

/** Another user key in the same partition as `key`. */
function sibling(layout: KeyLayout, key: string, tag: string): string {
  for (let n = 0; ; n++) {
    const k = `${key}~${tag}${String(n)}`;
    if (layout.of(k) === layout.of(key)) return k;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('the store: every script on every primary', () => {
  const layout = keyLayout({ prefix: 's:', queueName: 'sq', partitions: 12 });
  let ledger: Ledger;
  let records: RecordStore;
  let deadLetters: DeadLetters;
  let sub: Cluster;
  const dead: string[] = [];

  beforeAll(async () => {
    const acks = { minReplicaAcks: 1, replicaAckTimeoutMs: 1000 };
    ledger = createLedger({
      redis: client,
      layout,
      retentionMs: 60_000,
      retentionCount: 1000,
      ...acks,
    });
    records = createRecordStore({ redis: client, layout, fenceWindowMs: 60_000, ...acks });
    deadLetters = createDeadLetters({ redis: client, layout });
    sub = createRedisClient(cluster.url, 'subscriber', config, 't-sub') as Cluster;
    // Nothing cached yet, so SCRIPT EXISTS below proves each script ran on each primary.
    for (const p of await cluster.primaries()) {
      const r = direct(p.port);
      await r.script('FLUSH');
      r.disconnect();
    }
  });
  afterAll(async () => {
    await closeClient(sub);
  });

  /** Every ledger and record-store path for `k`, on whichever primary holds its partition. */
  async function scenario(k: string, ikHome: number): Promise<void> {
    // An Idempotency-Key whose own partition is on primary `ikHome` (another than the key's).
    let ik = '';
    for (let n = 0; !ik; n++) {
      const c = `ik:${k}:${String(n)}`;
      if ((await primaryPortOf(layout, c)) === ikHome) ik = c;
    }

    // accept: new, dup, reused (ikey.lua marks and checks the Idempotency-Key's home).
    const id1 = ledger.newOpId(k);
    const in1 = { opId: id1, key: k, type: 'put' as const, idempotencyKey: ik, fingerprint: 'f1' };
    expect(await ledger.checkIdempotencyHome(in1)).toBeUndefined();
    const a1 = await ledger.accept(in1);
    expect(a1).toMatchObject({ kind: 'new', version: 1 });
    if (a1.kind !== 'new') throw new Error('not new');
    const again = { ...in1, opId: ledger.newOpId(k) };
    expect(await ledger.checkIdempotencyHome(again)).toBeUndefined();
    expect(await ledger.accept(again)).toEqual({ kind: 'dup', opId: id1 });
    const other = { ...again, fingerprint: 'f2' };
    expect(await ledger.checkIdempotencyHome(other)).toEqual({ kind: 'reused', opId: id1 });
    expect(await ledger.accept(other)).toEqual({ kind: 'reused', opId: id1 });

    // inspect: state, dup, reused.
    expect(await ledger.inspect(k, undefined, '')).toEqual({
      kind: 'state',
      lastVersion: 1,
      pending: 1,
    });
    expect(await ledger.inspect(k, ik, 'f1')).toEqual({ kind: 'dup', opId: id1 });
    expect(await ledger.inspect(k, ik, 'f2')).toEqual({ kind: 'reused', opId: id1 });

    // refuse: a stale decision (a write pending), a repeat; on a key with nothing pending, a
    // refusal kept for its own request (fingerprint) only.
    const refusal = { key: k, fingerprint: '', lastVersion: 1, problem: '{"code":"KEY_EXISTS"}' };
    expect(await ledger.refuse({ ...refusal, idempotencyKey: undefined })).toEqual({
      kind: 'state',
      lastVersion: 1,
      pending: 1,
    });
    expect(await ledger.refuse({ ...refusal, idempotencyKey: ik, fingerprint: 'f1' })).toEqual({
      kind: 'dup',
      opId: id1,
    });
    const quiet = { ...refusal, key: `${k}/quiet`, lastVersion: 0, idempotencyKey: `${ik}/r` };
    expect(await ledger.refuse({ ...quiet, fingerprint: 'r1' })).toEqual({ kind: 'refused-now' });
    expect(await ledger.inspect(quiet.key, quiet.idempotencyKey, 'r1')).toEqual({
      kind: 'refused',
      problem: quiet.problem,
    });
    expect(await ledger.inspect(quiet.key, quiet.idempotencyKey, 'r2')).toEqual({
      kind: 'state',
      lastVersion: 0,
      pending: 0,
    });

    // accept: moved (a stale conditional decision), newer (a replay the key has moved past).
    const decidedAfter = { lastVersion: 0, at: a1.acceptedAt };
    expect(
      await ledger.accept({ opId: ledger.newOpId(k), key: k, type: 'put', decidedAfter }),
    ).toEqual({ kind: 'moved', lastVersion: 1, pending: 1 });
    const replay = { of: 'gone', maxVersion: 0 };
    expect(await ledger.accept({ opId: ledger.newOpId(k), key: k, type: 'put', replay })).toEqual({
      kind: 'newer',
      lastVersion: 1,
    });

    // unaccept: the receipt goes, the pending count comes back, the version stays used.
    const id2 = ledger.newOpId(k);
    const a2 = await ledger.accept({ opId: id2, key: k, type: 'put' });
    expect(a2).toMatchObject({ kind: 'new', version: 2 });
    await ledger.unaccept({ opId: id2, key: k });
    expect(await ledger.receipt(id2)).toBeNull();
    expect(await ledger.inspect(k, undefined, '')).toMatchObject({ lastVersion: 2, pending: 1 });

    // receipt, idempotentReceipt, the open list, replica acks on the key's node.
    expect(await ledger.receipt(id1)).toMatchObject({ id: id1, key: k, status: 'queued' });
    expect(await ledger.idempotentReceipt(ik, id1)).toMatchObject({ id: id1, version: 1 });
    expect(await ledger.openOlderThan(0, 1000)).toContain(id1);
    expect(await ledger.unfinished()).toBeGreaterThanOrEqual(1);
    expect(await ledger.replicated(k)).toBe(true);

    // start: a job for another key is refused; the op turns active with its deadline.
    await records.syncClock();
    const deadline = Math.ceil(records.clock()) + 30_000;
    expect(await ledger.start(id1, `${k}-not`, 1, deadline)).toEqual({ status: 'mismatch' });
    expect(await ledger.start(id1, k, 1, deadline)).toMatchObject({
      status: 'queued',
      version: 1,
      deadline,
    });

    // peek and apply: applied, already, conflict, late.
    expect((await records.peek(k)).liveVersion).toBeNull();
    const op1 = {
      opId: id1,
      key: k,
      type: 'put' as const,
      version: 1,
      valueJson: '{"n":1}',
      acceptedAt: a1.acceptedAt,
      deadline,
    };
    const ap1 = await records.apply(op1);
    expect(ap1).toMatchObject({ outcome: 'applied', version: 1, created: true, expiresAt: null });
    expect(await records.apply(op1)).toMatchObject({ outcome: 'already', version: 1 });
    const reissued = { ...op1, opId: ledger.newOpId(k) };
    expect(await records.apply(reissued)).toMatchObject({ outcome: 'conflict', version: 1 });
    expect(await records.apply({ ...op1, version: 9, deadline: 1 })).toMatchObject({
      outcome: 'late',
    });
    expect((await records.peek(k)).liveVersion).toBe(1);
    expect(await records.replicated(k)).toBe(true);

    // finish (applied): once, announced on the partition's sharded channel.
    const channel = ledger.doneChannel(id1);
    const heard = new Promise<string>((resolve) => {
      sub.on('smessage', (ch: string, msg: string) => {
        if (ch === channel) resolve(msg);
      });
    });
    await sub.ssubscribe(channel);
    const applied = {
      opId: id1,
      key: k,
      status: 'applied' as const,
      attempts: 1,
      created: true,
      createdAt: ap1.createdAt,
      expiresAt: null,
      appliedAt: ap1.updatedAt,
    };
    expect(await ledger.finish(applied)).toBe('applied');
    expect(await heard).toBe('applied');
    await sub.sunsubscribe(channel);
    expect(await ledger.finish({ ...applied, status: 'failed' })).toBe('applied');
    expect(await ledger.receipt(id1)).toMatchObject({ status: 'applied', created: true });
    expect(await ledger.idempotentReceipt(ik, id1)).toMatchObject({ status: 'applied' });
    expect(await ledger.openOlderThan(0, 1000)).not.toContain(id1);

    // resolve: applied, conflict, none, wait.
    const past = { opId: id1, key: k, version: 1, deadline: 0 };
    expect(await records.resolve(past)).toMatchObject({
      kind: 'applied',
      outcome: { outcome: 'applied' },
    });
    expect(await records.resolve({ ...past, opId: reissued.opId })).toEqual({ kind: 'conflict' });
    expect(await records.resolve({ ...past, version: 9 })).toEqual({ kind: 'none' });
    expect(
      await records.resolve({ ...past, deadline: Math.ceil(records.clock()) + 60_000 }),
    ).toMatchObject({
      kind: 'wait',
    });

    // A later version with a TTL, then the unaccepted version 2: superseded.
    const id3 = ledger.newOpId(k);
    const a3 = await ledger.accept({ opId: id3, key: k, type: 'put' });
    expect(a3).toMatchObject({ kind: 'new', version: 3 });
    await ledger.start(id3, k, 1, deadline);
    const ap3 = await records.apply({
      ...op1,
      opId: id3,
      version: 3,
      valueJson: '"three"',
      ttlMs: 600_000,
    });
    expect(ap3).toMatchObject({ outcome: 'applied', version: 3, created: false });
    expect(ap3.expiresAt).toBeGreaterThan(Date.now());
    expect(await ledger.finish({ ...applied, opId: id3, created: false })).toBe('applied');
    expect(await records.apply({ ...op1, opId: id2, version: 2 })).toMatchObject({
      outcome: 'superseded',
      version: 3,
    });
    expect(await records.resolve({ ...past, opId: id2, version: 2 })).toEqual({
      kind: 'superseded',
    });
    expect(await records.get(k)).toMatchObject({
      key: k,
      valueJson: '"three"',
      version: 3,
      createdAt: ap1.createdAt,
      expiresAt: ap3.expiresAt,
    });

    // seal: a sealed op gets no deadline; it never ran, so it ends dead in the DLQ.
    const id4 = ledger.newOpId(k);
    expect(await ledger.accept({ opId: id4, key: k, type: 'delete' })).toMatchObject({
      version: 4,
    });
    expect(await ledger.seal(id4)).toMatchObject({ status: 'queued', version: 4, key: k });
    expect(await ledger.start(id4, k, 2, deadline)).toMatchObject({ status: 'sealed' });
    expect(await records.resolve({ ...past, opId: id4, version: 4 })).toEqual({ kind: 'none' });
    const payload: JobPayload = { opId: id4, key: k, type: 'delete' };
    const error = { code: 'RETRIES_EXHAUSTED', message: 'on purpose' };
    expect(
      await ledger.finish({
        opId: id4,
        key: k,
        status: 'dead',
        attempts: 2,
        error,
        deadLetter: payload,
      }),
    ).toBe('dead');
    dead.push(id4);
    expect(await deadLetters.get(id4)).toMatchObject({
      id: id4,
      key: k,
      type: 'delete',
      version: 4,
      attempts: 2,
      error,
      op: payload,
    });
    expect(await ledger.inspect(k, undefined, '')).toEqual({
      kind: 'state',
      lastVersion: 4,
      pending: 0,
    });

    // raise: only ever up.
    await ledger.raiseVersion(k, 10);
    await ledger.raiseVersion(k, 5);
    expect(await ledger.inspect(k, undefined, '')).toMatchObject({ lastVersion: 10 });

    // apply refused as older than the fencing window (expired), which resolve then reports.
    const fresh = sibling(layout, k, 'fresh');
    const stale = { ...op1, opId: layout.newOpId(fresh), key: fresh, acceptedAt: 1 };
    expect(await records.apply(stale)).toMatchObject({ outcome: 'expired' });
    expect(await records.resolve({ ...past, opId: stale.opId, key: fresh })).toEqual({
      kind: 'refused',
    });

    // reap: a record past its TTL turns into a tombstone and leaves the listing.
    const brief = sibling(layout, k, 'brief');
    const short = {
      ...op1,
      opId: layout.newOpId(brief),
      key: brief,
      acceptedAt: Math.floor(records.clock()),
    };
    expect(await records.apply({ ...short, ttlMs: 1 })).toMatchObject({ outcome: 'applied' });
    await sleep(20);
    expect(await records.reap(100)).toBeGreaterThanOrEqual(1);
    expect(await records.get(brief)).toBeNull();
    expect((await records.peek(brief)).liveVersion).toBeNull();

    // forgetOpen: an open op leaves the open list.
    const id5 = ledger.newOpId(k);
    await ledger.accept({ opId: id5, key: k, type: 'put' });
    expect(await ledger.openOlderThan(0, 1000)).toContain(id5);
    await ledger.forgetOpen(id5);
    expect(await ledger.openOlderThan(0, 1000)).not.toContain(id5);
  }

  it('runs every ledger and record-store path for keys on each of the three primaries', async () => {
    const keys = await keyPerPrimary(layout, 'sk/');
    const ports = await Promise.all(keys.map((k) => primaryPortOf(layout, k)));
    expect(new Set(ports).size).toBe(3);
    // Each key's Idempotency-Key lives on the next primary, so ikey.lua runs on all three too.
    for (const [i, k] of keys.entries()) await scenario(k, ports[(i + 1) % 3] ?? 0);

    // records.list: the three live keys (not the reaped ones), in byte order, one page at a time.
    const seen: string[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await records.list({ prefix: 'sk/', after, limit: 1 });
      seen.push(...page.items.map((i) => i.key));
      if (!page.more) break;
      after = page.last;
    }
    expect(seen).toEqual([...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))));

    // Dead letters (dlq-page.lua on every partition): paged newest first, claimed, removed.
    const listed: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await deadLetters.list({ limit: 2, cursor });
      listed.push(...page.items.map((i) => i.id));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    expect([...listed].sort()).toEqual([...dead].sort());
    expect(await deadLetters.size()).toBe(3);
    const [first] = dead as [string];
    expect(await deadLetters.claim(first, 10_000)).toBe(true);
    expect(await deadLetters.claim(first, 10_000)).toBe(false);
    await deadLetters.release(first);
    expect(await deadLetters.claim(first, 10_000)).toBe(true);
    expect(await deadLetters.remove(first)).toBe(true);
    expect(await deadLetters.remove(first)).toBe(false);
    expect(await deadLetters.get(first)).toBeNull();
    expect(await deadLetters.size()).toBe(2);

    // The global reconcile lock (a key outside every partition).
    expect(await ledger.tryLock('reconcile', 5000, 'a')).toBe(true);
    expect(await ledger.tryLock('reconcile', 5000, 'b')).toBe(false);
    expect(await ledger.tryLock('reconcile', 5000, 'a')).toBe(true);

    // Every script in src/store/lua ran on every primary (it is in each one's script cache).
    const dir = new URL('../../src/store/lua/', import.meta.url);
    const preamble = readFileSync(new URL('_preamble.lua', dir), 'utf8');
    const names = readdirSync(dir).filter((f) => f.endsWith('.lua') && f !== '_preamble.lua');
    expect(names).toHaveLength(14);
    const shas = names.map((f) =>
      createHash('sha1')
        .update(preamble + readFileSync(new URL(f, dir), 'utf8'))
        .digest('hex'),
    );
    for (const p of await cluster.primaries()) {
      const r = direct(p.port);
      try {
        const exists = (await r.script('EXISTS', ...shas)) as number[];
        expect(Object.fromEntries(names.map((n, i) => [n, exists[i]]))).toEqual(
          Object.fromEntries(names.map((n) => [n, 1])),
        );
      } finally {
        r.disconnect();
      }
    }
  }, 30_000);
});

describe('the HTTP API on the cluster, MIN_REPLICA_ACKS=1', () => {
  let s: Stack;
  let bull: Cluster;
  let malformedId = '';
  let failedId = '';
  /** The key whose write is made to fail: in another partition than the malformed job's (0). */
  let deadKey = '';

  /** Every request of this block: never a 5xx (a CROSSSLOT would be a 500). */
  async function req(...args: Parameters<typeof call>) {
    const r = await call(...args);
    expect(r.status, `${args[1]} ${args[2]}: ${r.text}`).toBeLessThan(500);
    return r;
  }

  /** The replica of the data slot holds the record as the answer reported it (or a tombstone). */
  async function dataReplicaHas(key: string, version: number, value: unknown) {
    const rec = s.dataKeysOf(key).record(key);
    const [v, val, d] = await (await replicaOf(rec)).hmget(rec, 'v', 'val', 'd');
    expect(v, `replica version of ${key}`).toBe(String(version));
    if (value === undefined) expect(d).toBe('1');
    else expect(JSON.parse(val ?? 'null')).toEqual(value);
  }

  /** The replica of the queue slot holds the op's receipt (its acceptance was acknowledged). */
  async function queueReplicaHas(opId: string, version: number) {
    const op = s.queueKeysOfOp(opId).op(opId);
    expect(await (await replicaOf(op)).hget(op, 'version')).toBe(String(version));
  }

  /** Keys over all 12 partitions, two per partition. */
  const keys: string[] = [];
  const live = new Map<string, unknown>();

  beforeAll(async () => {
    s = await startStack({
      worker: false,
      queueUrl: cluster.url,
      kvUrl: cluster.url,
      env: {
        MIN_REPLICA_ACKS: '1',
        REPLICA_ACK_TIMEOUT_MS: '1000',
        RECONCILE_INTERVAL_MS: '200',
      },
    });
    const per = new Map<number, number>();
    for (let n = 0; keys.length < 24; n++) {
      const k = `h/${String(n).padStart(3, '0')}`;
      const p = s.layout.of(k);
      if ((per.get(p) ?? 0) < 2) {
        per.set(p, (per.get(p) ?? 0) + 1);
        keys.push(k);
      }
    }

    // Two dead letters in the making, while no worker runs: a malformed job in partition 0's
    // queue, and an accepted write whose job fails in a worker that records nothing.
    bull = createRedisClient(cluster.url, 'blocking', config, 't-bull') as Cluster;
    const q0 = new Queue(s.layout.queueName(0), { connection: bull });
    malformedId = String((await q0.add('apply', { bogus: true })).id);
    await q0.close();
    for (let n = 0; !deadKey; n++)
      if (s.layout.of(`h-dead${String(n)}`) !== 0) deadKey = `h-dead${String(n)}`;
    const w = await req(s.url, 'PUT', `/v1/keys/${deadKey}`, { body: { value: 'back' } });
    expect(w.status).toBe(202);
    failedId = w.body.op.id as string;
    const silent = new Worker(s.queueNameOf(deadKey), null, { connection: bull });
    const job = await silent.getNextJob('tok');
    expect(job.id).toBe(failedId);
    await job.moveToFailed(new UnrecoverableError('failed on purpose'), 'tok');
    await silent.close();
    await s.startWorker();
  }, 30_000);
  afterAll(async () => {
    await s.stop();
    await closeClient(bull);
  });

  it('PUT with Prefer: wait: 201 then 200, and both replicas already have what it reported', async () => {
    await Promise.all(
      keys.map(async (k, i) => {
        const value = { k, i };
        const put = await req(s.url, 'PUT', `/v1/keys/${k}`, {
          body: { value },
          headers: { Prefer: 'wait=10' },
        });
        expect(put.status).toBe(201);
        expect(put.body).toMatchObject({ key: k, value, version: 1, op: { status: 'applied' } });
        await dataReplicaHas(k, 1, value);
        await queueReplicaHas(put.body.op.id as string, 1);
        const value2 = { k, i, again: true };
        const upd = await req(s.url, 'PUT', `/v1/keys/${k}`, {
          body: { value: value2 },
          headers: { Prefer: 'wait=10' },
        });
        expect(upd.status).toBe(200);
        expect(upd.headers.get('etag')).toBe('"2"');
        await dataReplicaHas(k, 2, value2);
        live.set(k, value2);
      }),
    );
  });

  it('conditional writes: If-Match, If-None-Match and POST create, decided alike in every partition', async () => {
    await Promise.all(
      keys.map(async (k) => {
        const wait = { Prefer: 'wait=10' };
        const ok = await req(s.url, 'PUT', `/v1/keys/${k}`, {
          body: { value: 'm' },
          headers: { ...wait, 'If-Match': '"2"' },
        });
        expect(ok.status).toBe(200);
        await dataReplicaHas(k, 3, 'm');
        const stale = await req(s.url, 'PUT', `/v1/keys/${k}`, {
          body: { value: 'x' },
          headers: { ...wait, 'If-Match': '"2"' },
        });
        expect(stale.status).toBe(412);
        expect(stale.body.code).toBe('PRECONDITION_FAILED');
        const absent = await req(s.url, 'PUT', `/v1/keys/${k}`, {
          body: { value: 'x' },
          headers: { ...wait, 'If-None-Match': '*' },
        });
        expect(absent.status).toBe(412);
        const created = await req(s.url, 'POST', '/v1/keys', {
          body: { key: `${k}/new`, value: 'n' },
          headers: wait,
        });
        expect(created.status).toBe(201);
        await dataReplicaHas(`${k}/new`, 1, 'n');
        const exists = await req(s.url, 'POST', '/v1/keys', {
          body: { key: `${k}/new`, value: 'n2' },
          headers: wait,
        });
        expect(exists.status).toBe(409);
        expect(exists.body.code).toBe('KEY_EXISTS');
        live.set(k, 'm');
        live.set(`${k}/new`, 'n');
      }),
    );
    const ifMissing = await req(s.url, 'PUT', '/v1/keys/h-missing', {
      body: { value: 1 },
      headers: { Prefer: 'wait=10', 'If-Match': '*' },
    });
    expect(ifMissing.status).toBe(412);
  });

  it('GET, HEAD, ?after= and If-None-Match; a 202 write read through GET /v1/ops with Prefer: wait', async () => {
    await Promise.all(
      keys.map(async (k) => {
        const w = await req(s.url, 'PUT', `/v1/keys/${k}`, { body: { value: { v: 4 } } });
        expect(w.status).toBe(202);
        const id = w.body.op.id as string;
        expect(s.layout.ofOp(id)).toBe(s.layout.of(k));
        await queueReplicaHas(id, 4);
        // The read waits for the op (sharded pub/sub on the op's partition), then reads.
        const after = await req(s.url, 'GET', `/v1/keys/${k}?after=${id}`);
        expect(after.status).toBe(200);
        expect(after.body).toMatchObject({ value: { v: 4 }, version: 4 });
        const receipt = await req(s.url, 'GET', `/v1/ops/${id}`, {
          headers: { Prefer: 'wait=10' },
        });
        expect(receipt.body.op).toMatchObject({ id, status: 'applied', version: 4 });
        expect(receipt.headers.get('preference-applied')).toBe('wait=10');
        await dataReplicaHas(k, 4, { v: 4 });
        const notModified = await req(s.url, 'GET', `/v1/keys/${k}`, {
          headers: { 'If-None-Match': '"4"' },
        });
        expect(notModified.status).toBe(304);
        const head = await fetch(`${s.url}/v1/keys/${k}`, { method: 'HEAD' });
        expect(head.status).toBe(200);
        expect(head.headers.get('etag')).toBe('"4"');
        expect(await head.text()).toBe('');
        live.set(k, { v: 4 });
      }),
    );
    const missing = await fetch(`${s.url}/v1/keys/h-missing`, { method: 'HEAD' });
    expect(missing.status).toBe(404);
  });

  it('DELETE (blind and If-Match) leaves tombstones the replicas have; TTL keys expire', async () => {
    const [a, b] = keys as [string, string];
    const del = await req(s.url, 'DELETE', `/v1/keys/${a}`, { headers: { Prefer: 'wait=10' } });
    expect(del.status).toBe(204);
    await dataReplicaHas(a, 5, undefined);
    expect((await req(s.url, 'GET', `/v1/keys/${a}`)).status).toBe(404);
    expect((await fetch(`${s.url}/v1/keys/${a}`, { method: 'HEAD' })).status).toBe(404);
    const stale = await req(s.url, 'DELETE', `/v1/keys/${b}`, {
      headers: { Prefer: 'wait=10', 'If-Match': '"1"' },
    });
    expect(stale.status).toBe(412);
    const cas = await req(s.url, 'DELETE', `/v1/keys/${b}`, {
      headers: { Prefer: 'wait=10', 'If-Match': '"4"' },
    });
    expect(cas.status).toBe(204);
    await dataReplicaHas(b, 5, undefined);
    live.delete(a);
    live.delete(b);

    const ttl = await req(s.url, 'PUT', '/v1/keys/ttl/one', {
      body: { value: 't', ttlSeconds: 1 },
      headers: { Prefer: 'wait=10' },
    });
    expect(ttl.status).toBe(201);
    expect(Date.parse(ttl.body.expiresAt as string)).toBeGreaterThan(Date.now());
    await dataReplicaHas('ttl/one', 1, 't');
    expect((await req(s.url, 'GET', '/v1/keys/ttl/one')).status).toBe(200);
    await sleep(1100);
    expect((await req(s.url, 'GET', '/v1/keys/ttl/one')).status).toBe(404);
    // The reaper (every worker, every partition) takes it out of the index.
    const rec = s.dataKeysOf('ttl/one').record('ttl/one');
    expect(await eventually(async () => (await client.hget(rec, 'd')) === '1', 5000, 100)).toBe(
      true,
    );
  });

  it('a write whose slot has no replica answering is 503 WRITE_NOT_REPLICATED, then its repeat lands', async () => {
    const k = keys[2] ?? '';
    const primary = await cluster.primaryOf(slotOf(s.queueKeysOf(k).version(k)));
    const replica = cluster.nodes.find((n) => n.port === replicaOfPrimary.get(primary.port));
    if (!replica) throw new Error('no replica');
    const headers = { 'Idempotency-Key': 'h-ik-stopped', Prefer: 'wait=10' };
    replica.child.kill('SIGSTOP');
    let refused;
    try {
      // The one 5xx this file expects: a retryable 503 that names the op.
      refused = await call(s.url, 'PUT', `/v1/keys/${k}`, { body: { value: 'r' }, headers });
    } finally {
      replica.child.kill('SIGCONT');
    }
    expect(refused.status).toBe(503);
    expect(refused.body.code).toBe('WRITE_NOT_REPLICATED');
    expect(refused.headers.get('retry-after')).toBe('1');
    const repeat = await req(s.url, 'PUT', `/v1/keys/${k}`, { body: { value: 'r' }, headers });
    expect(repeat.status).toBe(200);
    expect(repeat.body.op.id).toBe(refused.body.opId);
    await dataReplicaHas(k, repeat.body.version as number, 'r');
    live.set(k, 'r');
  });

  it('listing pages every live key once, in byte order, across the partitions', async () => {
    const expected = [...live.keys()].sort((x, y) =>
      Buffer.compare(Buffer.from(x), Buffer.from(y)),
    );
    expect(new Set(expected.map((k) => s.layout.of(k))).size).toBe(12);
    for (const limit of [1, 5, 100]) {
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const c: string = cursor ? `&cursor=${cursor}` : '';
        const r = await req(s.url, 'GET', `/v1/keys?prefix=h/&limit=${String(limit)}${c}`);
        expect(r.body.items.length).toBeLessThanOrEqual(limit);
        seen.push(...(r.body.items as { key: string }[]).map((i) => i.key));
        cursor = r.body.nextCursor as string | null;
      } while (cursor);
      expect(seen).toEqual(expected);
    }
    expect((await req(s.url, 'GET', '/v1/keys?prefix=ttl/')).body.items).toEqual([]);
  });

  it('Idempotency-Key: a repeat answers the first op; reuse for a key of another partition is 422', async () => {
    const [k1] = keys as [string];
    const k2 = keys.find((k) => live.has(k) && s.layout.of(k) !== s.layout.of(k1)) ?? '';
    const headers = { 'Idempotency-Key': 'h-ik-1' };
    const first = await req(s.url, 'PUT', `/v1/keys/${k1}`, { body: { value: 'i' }, headers });
    expect(first.status).toBe(202);
    const repeat = await req(s.url, 'PUT', `/v1/keys/${k1}`, {
      body: { value: 'i' },
      headers: { ...headers, Prefer: 'wait=10' },
    });
    expect(repeat.status).toBe(201);
    expect(repeat.body.op.id).toBe(first.body.op.id);
    await dataReplicaHas(k1, repeat.body.version as number, 'i');
    const reuse = await req(s.url, 'PUT', `/v1/keys/${k2}`, { body: { value: 'i' }, headers });
    expect(reuse.status).toBe(422);
    expect(reuse.body.code).toBe('IDEMPOTENCY_KEY_REUSED');
    expect((await req(s.url, 'GET', `/v1/keys/${k2}`)).body.value).toEqual(live.get(k2));
  });

  it('dead letters: listed across partitions, read, replayed (the replay replicated), discarded', async () => {
    const listed = await eventually(async () => {
      const r = await req(s.url, 'GET', '/v1/dlq?limit=1');
      const next = r.body.nextCursor as string | null;
      const rest = next ? await req(s.url, 'GET', `/v1/dlq?limit=1&cursor=${next}`) : undefined;
      const items = [...r.body.items, ...(rest?.body.items ?? [])] as { id: string }[];
      return items.length === 2 ? items : undefined;
    }, 10_000);
    expect(listed?.map((i) => i.id).sort()).toEqual([failedId, malformedId].sort());

    const bad = await req(s.url, 'GET', `/v1/dlq/${malformedId}`);
    expect(bad.body).toMatchObject({ id: malformedId, op: null, error: { code: 'MALFORMED_JOB' } });
    expect((await req(s.url, 'POST', `/v1/dlq/${malformedId}/retry`)).status).toBe(409);
    expect((await req(s.url, 'DELETE', `/v1/dlq/${malformedId}`)).status).toBe(204);
    expect((await req(s.url, 'DELETE', `/v1/dlq/${malformedId}`)).status).toBe(404);

    const one = await req(s.url, 'GET', `/v1/dlq/${failedId}`);
    expect(one.body).toMatchObject({
      key: deadKey,
      error: { code: 'RETRIES_EXHAUSTED', message: 'failed on purpose' },
      op: { key: deadKey, value: 'back', version: 1 },
    });
    const replay = await req(s.url, 'POST', `/v1/dlq/${failedId}/retry`, {
      headers: { Prefer: 'wait=10' },
    });
    expect(replay.status).toBe(201);
    expect(replay.body).toMatchObject({ value: 'back', version: 2, op: { replayOf: failedId } });
    await dataReplicaHas(deadKey, 2, 'back');
    expect((await req(s.url, 'GET', `/v1/ops/${failedId}`)).body.op.status).toBe('dead');
    expect((await req(s.url, 'GET', '/v1/dlq')).body.items).toEqual([]);
  });
});

it('no node of the cluster ever answered CROSSSLOT', async () => {
  for (const n of cluster.nodes) {
    const r = direct(n.port);
    try {
      const stats = await r.info('errorstats');
      expect(stats, `node ${String(n.port)}`).not.toMatch(/CROSSSLOT/);
    } finally {
      r.disconnect();
    }
  }
});
