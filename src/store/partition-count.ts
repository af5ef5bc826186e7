import type { Cluster, Redis } from 'ioredis';

import type { KeyLayout } from '../core/index.ts';

/** A process configured with another partition count than the data was written with. */
export class PartitionCountMismatch extends Error {
  constructor(which: string, recorded: string, configured: number) {
    super(
      `the ${which} Redis holds data written with PARTITIONS=${recorded}; this process is configured with PARTITIONS=${String(configured)}. ` +
        'Every key would map to another partition, so it refuses to start: set PARTITIONS to the recorded value.',
    );
    this.name = 'PartitionCountMismatch';
  }
}

/**
 * Records the partition count in a Redis on first use, and rejects with PartitionCountMismatch
 * when it holds another one. (One plain key: on a cluster, whichever node owns its slot.) Read
 * first, written only when absent: a deployment records its count once, and a read is answered
 * where a write is refused (a primary short of `min-replicas-to-write` replicas during a
 * failover, a full one), so a process restarted then still starts.
 */
export async function checkPartitionCount(
  redis: Redis | Cluster,
  layout: KeyLayout,
  which: 'queue' | 'data',
): Promise<void> {
  const mine = String(layout.count);
  const key = layout.global.partitions;
  const prev = (await redis.get(key)) ?? (await redis.set(key, mine, 'NX', 'GET'));
  if (prev !== null && prev !== mine) throw new PartitionCountMismatch(which, prev, layout.count);
}
