import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { keyLayout } from './keys.ts';
import { CLUSTER_SLOTS, crc16, createPartitioning, fnv1a32, slotOf } from './partitions.ts';

describe('the hashes', () => {
  it('crc16 is CRC16-XMODEM, as Redis Cluster uses it', () => {
    // The check value of CRC-16/XMODEM, and slots that Redis' CLUSTER KEYSLOT reports.
    expect(crc16('123456789')).toBe(0x31c3);
    expect(slotOf('foo')).toBe(12182);
    expect(slotOf('bar')).toBe(5061);
    expect(slotOf('{user1000}.following')).toBe(slotOf('user1000'));
    // An empty tag is no tag: the whole key is hashed.
    expect(slotOf('foo{}{bar}')).toBe(crc16('foo{}{bar}') % CLUSTER_SLOTS);
  });

  it('fnv1a32 is FNV-1a over the UTF-8 bytes', () => {
    expect(fnv1a32('')).toBe(0x811c9dc5);
    expect(fnv1a32('a')).toBe(0xe40c292c);
    expect(fnv1a32('foobar')).toBe(0xbf9cf968);
    // Over bytes, not UTF-16 code units: 'é' is 0xc3 0xa9.
    expect(fnv1a32('é')).toBe(
      Math.imul(Math.imul(0x811c9dc5 ^ 0xc3, 0x01000193) ^ 0xa9, 0x01000193) >>> 0,
    );
  });
});

describe('partitions', () => {
  it.each([1, 2, 3, 4, 6, 12, 16, 64, 1024])(
    'P = %i: partition i hashes into the i-th of P equal slot ranges, so P / N land on each of N primaries',
    (count) => {
      const p = createPartitioning(count);
      for (let i = 0; i < count; i++) {
        const slot = slotOf(`kvq:${p.tag(i)}ver:x`);
        expect(slot).toBeGreaterThanOrEqual(Math.floor((i * CLUSTER_SLOTS) / count));
        expect(slot).toBeLessThan(Math.floor(((i + 1) * CLUSTER_SLOTS) / count));
      }
    },
  );

  it('12 partitions spread evenly over 1, 2, 3, 4, 6 or 12 primaries with equal slot ranges', () => {
    const p = createPartitioning(12);
    for (const n of [1, 2, 3, 4, 6, 12]) {
      const perPrimary = new Array<number>(n).fill(0);
      for (let i = 0; i < 12; i++) {
        const slot = slotOf(p.tag(i));
        perPrimary[Math.floor((slot * n) / CLUSTER_SLOTS)]! += 1;
      }
      expect(perPrimary).toEqual(new Array<number>(n).fill(12 / n));
    }
  });

  it('every key of one partition, on both Redis, is in one slot; keys spread over partitions', () => {
    const layout = keyLayout({ prefix: 'kvq:', queueName: 'kvq-ops', partitions: 12 });
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 40 }), (key) => {
        const i = layout.of(key);
        const q = layout.queue(i);
        const d = layout.data(i);
        const opId = layout.newOpId(key);
        const slots = new Set(
          [
            q.version(key),
            q.op(opId),
            q.idempotency('ik'),
            q.finished,
            q.open,
            q.deadLetter(opId),
            q.deadLetterClaim(opId),
            q.deadLetters,
            `${q.doneChannel}:${opId}`,
            q.acks,
            `bull:${layout.queueName(i)}:wait`,
            d.record(key),
            d.index,
            d.expiry,
            d.refusal(opId),
            d.acks,
          ].map(slotOf),
        );
        expect(slots.size).toBe(1);
        expect(layout.ofOp(opId)).toBe(i);
      }),
    );
    const counts = new Array<number>(12).fill(0);
    for (let n = 0; n < 12_000; n++) counts[layout.of(`user/${String(n)}`)]! += 1;
    for (const c of counts) expect(Math.abs(c - 1000)).toBeLessThan(150);
  });

  it('an op id names its partition; anything else names none', () => {
    const p = createPartitioning(12);
    const id = p.newOpId('k');
    expect(id).toMatch(/^\d{1,2}-[0-9a-f-]{36}$/);
    expect(p.ofOp(id)).toBe(p.of('k'));
    for (const bad of [
      'x',
      '',
      '12-6f1c1a4e-2c1b-4b8e-9a51-6a3e2f1d0c9b', // partition out of range
      '01-6f1c1a4e-2c1b-4b8e-9a51-6a3e2f1d0c9b', // not canonical
      '3-6F1C1A4E-2C1B-4B8E-9A51-6A3E2F1D0C9B',
      '3-not-a-uuid',
    ]) {
      expect(p.ofOp(bad)).toBeUndefined();
    }
  });

  it('refuses a count outside 1..1024', () => {
    for (const bad of [0, -1, 1.5, 1025, Number.NaN]) {
      expect(() => createPartitioning(bad)).toThrow(/1\.\.1024/);
    }
  });
});
