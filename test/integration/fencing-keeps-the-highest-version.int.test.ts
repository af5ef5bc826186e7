import { randomBytes } from 'node:crypto';

import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

import { type KeyLayout, keyLayout } from '../../src/core/index.ts';
import { type ApplyInput, createRecordStore, type RecordStore } from '../../src/store/index.ts';

let redis: Redis;
let store: RecordStore;
let prefix: string;
let layout: KeyLayout;
/** The record of a user key, in its partition. */
const rec = (key: string) => layout.data(layout.of(key)).record(key);
const WINDOW = 60_000;

beforeAll(() => {
  redis = new Redis(inject('kvRedisUrl'));
  prefix = `f${randomBytes(3).toString('hex')}:`;
  layout = keyLayout({ prefix, queueName: 'unused', partitions: 12 });
  store = createRecordStore({ redis, layout, fenceWindowMs: WINDOW });
});
afterAll(() => {
  redis.disconnect();
});

const now = () => Date.now();
let ops = 0;
const opId = () => `op${String(++ops)}`;
const put = (key: string, version: number, value: unknown, extra: Partial<ApplyInput> = {}) =>
  store.apply({
    opId: opId(),
    key,
    type: 'put',
    version,
    valueJson: JSON.stringify(value),
    acceptedAt: now(),
    deadline: now() + 60_000,
    ...extra,
  });
const del = (key: string, version: number, extra: Partial<ApplyInput> = {}) =>
  store.apply({
    opId: opId(),
    key,
    type: 'delete',
    version,
    acceptedAt: now(),
    deadline: now() + 60_000,
    ...extra,
  });

describe('the apply script (one Lua compare-and-set)', () => {
  it('applies newer versions, calls older ones superseded and a redelivery already applied', async () => {
    expect((await put('a', 2, 'two', { opId: 'op-two' })).outcome).toBe('applied');
    expect((await put('a', 1, 'one')).outcome).toBe('superseded');
    expect((await put('a', 2, 'two', { opId: 'op-two' })).outcome).toBe('already');
    expect(await store.get('a')).toMatchObject({ valueJson: '"two"', version: 2 });
    expect((await put('a', 5, 'five')).outcome).toBe('applied');
    expect((await store.get('a'))?.version).toBe(5);
  });

  it('the same version under another op id is a conflict, never "already applied", and writes nothing', async () => {
    // As after a failover of the queue Redis that lost the first acceptance: version 2 issued
    // again, to another write.
    expect((await put('re', 2, 'first', { opId: 'op-first' })).outcome).toBe('applied');
    const again = await put('re', 2, 'reissued', { opId: 'op-reissued' });
    expect(again).toMatchObject({ outcome: 'conflict', version: 2 });
    expect(await store.get('re')).toMatchObject({ valueJson: '"first"', version: 2 });
    // A tombstone keeps its op id too.
    expect((await del('re', 3, { opId: 'op-del' })).outcome).toBe('applied');
    expect((await del('re', 3, { opId: 'op-del-2' })).outcome).toBe('conflict');
    expect((await del('re', 3, { opId: 'op-del' })).outcome).toBe('already');
    // resolve() tells the two apart as well, once past the deadline.
    const past = now() - 1;
    expect(
      await store.resolve({ opId: 'op-del', key: 're', version: 3, deadline: past }),
    ).toMatchObject({
      kind: 'applied',
      outcome: { outcome: 'applied', version: 3, created: false },
    });
    expect(
      await store.resolve({ opId: 'op-other', key: 're', version: 3, deadline: past }),
    ).toEqual({ kind: 'conflict' });
  });

  it('a tombstone fences older writes: no resurrection', async () => {
    await put('t', 1, 'x');
    expect((await del('t', 3)).outcome).toBe('applied');
    expect(await store.get('t')).toBeNull();
    expect((await put('t', 2, 'late')).outcome).toBe('superseded');
    expect(await store.get('t')).toBeNull();
    const ttl = await redis.pttl(rec('t'));
    expect(ttl).toBeGreaterThan(WINDOW - 5000);
    expect(ttl).toBeLessThanOrEqual(WINDOW);
    // The tombstone keeps only the version: no value.
    expect(await redis.hget(rec('t'), 'val')).toBeNull();
    expect((await put('t', 4, 'new')).outcome).toBe('applied');
    expect(await store.get('t')).toMatchObject({ valueJson: '"new"', version: 4 });
  });

  it('a delete of an absent key still records its version', async () => {
    expect((await del('never', 7)).outcome).toBe('applied');
    expect((await put('never', 6, 'old')).outcome).toBe('superseded');
  });

  it('TTL expiry keeps the version for the fencing window', async () => {
    const r = await put('ttl', 3, 'short', { ttlMs: 50 });
    expect(r.expiresAt).toBe(r.updatedAt + 50);
    const pttl = await redis.pttl(rec('ttl'));
    expect(pttl).toBeGreaterThan(WINDOW);
    await new Promise((res) => setTimeout(res, 80));
    expect(await store.get('ttl')).toBeNull();
    expect((await put('ttl', 2, 'stale')).outcome).toBe('superseded');
    expect(await store.reap(100)).toBe(1);
    expect(await redis.hget(rec('ttl'), 'val')).toBeNull();
    expect(await redis.hget(rec('ttl'), 'v')).toBe('3');
    expect((await put('ttl', 2, 'stale')).outcome).toBe('superseded');
    expect((await put('ttl', 4, 'fresh')).outcome).toBe('applied');
    expect(await redis.pttl(rec('ttl'))).toBe(-1);
  });

  it('refuses an op older than the window when no record fences the key', async () => {
    const r = await put('old', 9, 'ancient', { acceptedAt: now() - WINDOW - 1000 });
    expect(r.outcome).toBe('expired');
    expect(await store.get('old')).toBeNull();
    // With a record present, the version comparison decides (the fence is intact).
    await put('old2', 1, 'x');
    expect((await put('old2', 2, 'y', { acceptedAt: now() - WINDOW - 1000 })).outcome).toBe(
      'applied',
    );
  });

  it('rejects a version or deadline that is not a positive integer: fencing cannot be turned off', async () => {
    for (const version of [Number.NaN, 0, -1, 1.5, Number.POSITIVE_INFINITY]) {
      await expect(put('nan', version, 'x')).rejects.toThrow(/BADARG version/);
    }
    await expect(put('nan', 1, 'x', { deadline: Number.NaN })).rejects.toThrow(/BADARG deadline/);
    expect(await redis.exists(rec('nan'))).toBe(0);
    await expect(
      store.resolve({ opId: 'x', key: 'nan', version: Number.NaN, deadline: 0 }),
    ).rejects.toThrow(/BADARG version/);
  });

  it('an apply that runs after its deadline does nothing (late)', async () => {
    const r = await put('late', 1, 'x', { deadline: now() - 1000 });
    expect(r.outcome).toBe('late');
    expect(await redis.exists(rec('late'))).toBe(0);
  });

  it('resolves an unknown outcome only once the data Redis clock is past the deadline', async () => {
    await store.syncClock();
    const deadline = Math.ceil(store.clock()) + 400;
    const id = 'resolve-me';
    expect((await store.resolve({ opId: id, key: 'r', version: 2, deadline })).kind).toBe('wait');
    await store.apply({
      opId: id,
      key: 'r',
      type: 'put',
      version: 2,
      valueJson: '1',
      acceptedAt: now(),
      deadline,
    });
    await new Promise((res) => setTimeout(res, 500));
    expect((await store.resolve({ opId: id, key: 'r', version: 2, deadline })).kind).toBe(
      'applied',
    );
    expect((await store.resolve({ opId: 'other', key: 'r', version: 1, deadline })).kind).toBe(
      'superseded',
    );
    expect((await store.resolve({ opId: 'next', key: 'r', version: 3, deadline })).kind).toBe(
      'none',
    );
    // A refusal (older than the window, no record) leaves a marker: not mistaken for "never ran".
    const refused = await store.apply({
      opId: 'too-old',
      key: 'r-old',
      type: 'put',
      version: 1,
      valueJson: '1',
      acceptedAt: now() - WINDOW - 1000,
      deadline: Math.ceil(store.clock()) + 100,
    });
    expect(refused.outcome).toBe('expired');
    expect(
      (await store.resolve({ opId: 'too-old', key: 'r-old', version: 1, deadline: 0 })).kind,
    ).toBe('refused');
  });

  it('keeps the listing index in step with puts, deletes and TTLs', async () => {
    await put('idx/a', 1, 1);
    await put('idx/b', 1, 1);
    await del('idx/a', 2);
    const page = await store.list({ prefix: 'idx/', limit: 10 });
    expect(page.items.map((i) => i.key)).toEqual(['idx/b']);
  });
});
