/**
 * The partitioned keyspace. A user key belongs to partition `fnv1a32(utf8(key)) mod P`; every
 * Redis key of a partition carries that partition's hash tag, so each Lua script and each BullMQ
 * queue touches one Redis Cluster slot. The tags are chosen so that partition i hashes into the
 * i-th of P equal ranges of the 16384 slots: `redis-cli --cluster create` gives each of N primaries
 * one contiguous range, so when N divides P every primary holds P / N partitions.
 */

export const CLUSTER_SLOTS = 16384;

/** FNV-1a, 32 bits, over the UTF-8 bytes of `s`. Stated so that any client can compute it. */
export function fnv1a32(s: string): number {
  let h = 0x811c9dc5;
  for (const b of Buffer.from(s, 'utf8')) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

const CRC16_TABLE = (() => {
  const t = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i << 8;
    for (let j = 0; j < 8; j++) c = c & 0x8000 ? ((c << 1) ^ 0x1021) & 0xffff : (c << 1) & 0xffff;
    t[i] = c;
  }
  return t;
})();

/** CRC16-XMODEM, the checksum Redis Cluster maps keys to slots with. */
export function crc16(s: string): number {
  let crc = 0;
  for (const b of Buffer.from(s, 'utf8')) {
    crc = ((crc << 8) & 0xffff) ^ (CRC16_TABLE[((crc >> 8) ^ b) & 0xff] ?? 0);
  }
  return crc;
}

/** The cluster slot of a Redis key, hash tags included (the first non-empty `{...}`). */
export function slotOf(redisKey: string): number {
  const open = redisKey.indexOf('{');
  if (open >= 0) {
    const close = redisKey.indexOf('}', open + 1);
    if (close > open + 1) return crc16(redisKey.slice(open + 1, close)) % CLUSTER_SLOTS;
  }
  return crc16(redisKey) % CLUSTER_SLOTS;
}

export interface Partitioning {
  readonly count: number;
  /** The partition of a user key. */
  of(key: string): number;
  /** Partition i's hash tag, braces included: `{i.n}`. */
  tag(i: number): string;
  /** A new op id for a write to `key`: `<partition>-<uuid>`. */
  newOpId(key: string): string;
  /** The partition an op id names, or undefined when it is not an op id of this layout. */
  ofOp(opId: string): number | undefined;
}

const OP_ID = /^(\d{1,5})-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function createPartitioning(count: number): Partitioning {
  if (!Number.isInteger(count) || count < 1 || count > 1024) {
    throw new Error(`partition count must be an integer in 1..1024, got ${String(count)}`);
  }
  const tags: string[] = [];
  for (let i = 0; i < count; i++) {
    const lo = Math.floor((i * CLUSTER_SLOTS) / count);
    const hi = Math.floor(((i + 1) * CLUSTER_SLOTS) / count);
    for (let n = 0; ; n++) {
      const s = crc16(`${String(i)}.${String(n)}`) % CLUSTER_SLOTS;
      if (s >= lo && s < hi) {
        tags.push(`{${String(i)}.${String(n)}}`);
        break;
      }
    }
  }
  const of = (key: string) => fnv1a32(key) % count;
  return {
    count,
    of,
    tag(i) {
      const t = tags[i];
      if (t === undefined) throw new Error(`no partition ${String(i)} of ${String(count)}`);
      return t;
    },
    newOpId: (key) => `${String(of(key))}-${crypto.randomUUID()}`,
    ofOp(opId) {
      const m = OP_ID.exec(opId);
      if (!m) return undefined;
      const i = Number(m[1]);
      return i < count && String(i) === m[1] ? i : undefined;
    },
  };
}
