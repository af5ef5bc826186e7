import { Cluster, type Redis } from 'ioredis';

import { slotOf } from '../core/index.ts';

/**
 * `WAIT n timeout` for writes already made: resolves true when at least `n` replicas have every
 * write the node holding `touchKey` had made when the call was answered, false on a shortfall.
 * WAIT is refused inside Lua and covers the replication stream up to its own connection's last
 * write, so it is sent after the script, on the connection that ran it (on a cluster, the
 * connection to the master of the key's slot: a keyless command sent through the cluster client
 * would go to any node), right after an INCR of `touchKey`: that write moves the connection's
 * offset past everything the node did before, including an acceptance made by another process
 * that a repeated request (same Idempotency-Key) is answered from.
 *
 * Group commit: every caller whose write has been answered before a WAIT is sent is covered by
 * it (replies come in order on one connection), so the calls of one event-loop turn share one
 * WAIT per connection instead of queueing one each behind a blocking command.
 */
export type ReplicaAcks = (touchKey: string) => Promise<boolean>;

export function createReplicaAcks(
  redis: Redis | Cluster,
  replicas: number,
  timeoutMs: number,
): ReplicaAcks {
  if (replicas <= 0) return () => Promise.resolve(true);
  const pending = new Map<Redis, Promise<boolean>>();

  function connectionFor(redisKey: string): Redis {
    if (!(redis instanceof Cluster)) return redis;
    const nodeKey = redis.slots[slotOf(redisKey)]?.[0];
    const node = redis
      .nodes('master')
      .find((n) => `${String(n.options.host)}:${String(n.options.port)}` === nodeKey);
    if (!node) throw new Error(`no connection to the master of ${redisKey} (slot map not loaded)`);
    return node;
  }

  return (touchKey) => {
    let conn: Redis;
    try {
      conn = connectionFor(touchKey);
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    const joined = pending.get(conn);
    if (joined) return joined;
    const next = new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
      pending.delete(conn);
      // An INCR that failed (NOREPLICAS, OOM) moved no offset: the WAIT then proves nothing.
      const touched = conn.incr(touchKey).then(
        () => true,
        () => false,
      );
      const acked = conn.wait(replicas, timeoutMs);
      return Promise.all([touched, acked]).then(([t, n]) => t && n >= replicas);
    });
    pending.set(conn, next);
    return next;
  };
}
