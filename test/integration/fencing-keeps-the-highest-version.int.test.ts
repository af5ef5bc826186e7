import { randomBytes } from 'node:crypto';

import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

import { type ApplyInput, createRecordStore, type RecordStore } from '../../src/store/index.ts';

let redis: Redis;
let store: RecordStore;
let prefix: string;
const WINDOW = 60_000;

beforeAll(() => {
  redis = new Redis(inject('kvRedisUrl'));
  prefix = `f${randomBytes(3).toString('hex')}:`;
  store = createRecordStore({ redis, prefix, fenceWindowMs: WINDOW });
});
afterAll(() => {
  redis.disconnect();
});

const now = () => Date.now();
const put = (key: string, version: number, value: unknown, extra: Partial<ApplyInput> = {}) =>
  store.apply({
    key,
    type: 'put',
    version,
    valueJson: JSON.stringify(value),
    acceptedAt: now(),
    ...extra,
  });
const del = (key: string, version: number, extra: Partial<ApplyInput> = {}) =>
  store.apply({ key, type: 'delete', version, acceptedAt: now(), ...extra });

describe('the apply script (one Lua compare-and-set)', () => {
  it('applies newer versions, calls older ones superseded and equal ones already applied', async () => {
    expect((await put('a', 2, 'two')).outcome).toBe('applied');
    expect((await put('a', 1, 'one')).outcome).toBe('superseded');
    expect((await put('a', 2, 'two again')).outcome).toBe('already');
    expect(await store.get('a')).toMatchObject({ valueJson: '"two"', version: 2 });
    expect((await put('a', 5, 'five')).outcome).toBe('applied');
    expect((await store.get('a'))?.version).toBe(5);
  });

  it('a tombstone fences older writes: no resurrection', async () => {
    await put('t', 1, 'x');
    expect((await del('t', 3)).outcome).toBe('applied');
    expect(await store.get('t')).toBeNull();
    expect((await put('t', 2, 'late')).outcome).toBe('superseded');
    expect(await store.get('t')).toBeNull();
    const ttl = await redis.pttl(`${prefix}r:t`);
    expect(ttl).toBeGreaterThan(WINDOW - 5000);
    expect(ttl).toBeLessThanOrEqual(WINDOW);
    // The tombstone keeps only the version: no value.
    expect(await redis.hget(`${prefix}r:t`, 'val')).toBeNull();
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
    const pttl = await redis.pttl(`${prefix}r:ttl`);
    expect(pttl).toBeGreaterThan(WINDOW);
    await new Promise((res) => setTimeout(res, 80));
    expect(await store.get('ttl')).toBeNull();
    expect((await put('ttl', 2, 'stale')).outcome).toBe('superseded');
    expect(await store.reap(100)).toBe(1);
    expect(await redis.hget(`${prefix}r:ttl`, 'val')).toBeNull();
    expect(await redis.hget(`${prefix}r:ttl`, 'v')).toBe('3');
    expect((await put('ttl', 2, 'stale')).outcome).toBe('superseded');
    expect((await put('ttl', 4, 'fresh')).outcome).toBe('applied');
    expect(await redis.pttl(`${prefix}r:ttl`)).toBe(-1);
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

  it('checks conditions in the same script without taking the version', async () => {
    expect((await put('c', 1, 'a', { condition: { kind: 'exists' } })).outcome).toBe('failed');
    expect((await put('c', 2, 'a', { condition: { kind: 'absent' } })).outcome).toBe('applied');
    expect((await put('c', 3, 'b', { condition: { kind: 'absent' } })).outcome).toBe('failed');
    expect((await put('c', 4, 'b', { condition: { kind: 'version', version: 1 } })).outcome).toBe(
      'failed',
    );
    expect((await put('c', 5, 'b', { condition: { kind: 'version', version: 2 } })).outcome).toBe(
      'applied',
    );
    // A failed op does not move the version: an older write that did not fail still counts.
    expect(await store.get('c')).toMatchObject({ version: 5, valueJson: '"b"' });
  });

  it('keeps the listing index in step with puts, deletes and TTLs', async () => {
    await put('idx/a', 1, 1);
    await put('idx/b', 1, 1);
    await del('idx/a', 2);
    const page = await store.list({ prefix: 'idx/', limit: 10 });
    expect(page.items.map((i) => i.key)).toEqual(['idx/b']);
  });
});
