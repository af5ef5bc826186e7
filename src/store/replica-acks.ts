import { Cluster, type Redis } from 'ioredis';

import { isTransient, slotOf } from '../core/index.ts';

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
 *
 * A node that is no primary any more (demoted by a failover, or a slot map gone stale) refuses the
 * INCR (READONLY, MOVED) and WAIT itself: that is a shortfall, not an error to pass on; so is a
 * cluster whose slot map does not name the key's master (not loaded yet, or mid-failover): no
 * replica confirmed anything.
 */
export type ReplicaAcks = (touchKey: string, readOn?: Redis) => Promise<boolean>;

/**
 * The connection to the primary that the client's slot map names for `redisKey` now: the client
 * itself unless it is a cluster; undefined when the map names no known master (not loaded yet,
 * or mid-failover).
 */
export function primaryConnection(redis: Redis | Cluster, redisKey: string): Redis | undefined {
  if (!(redis instanceof Cluster)) return redis;
  const nodeKey = redis.slots[slotOf(redisKey)]?.[0];
  return redis
    .nodes('master')
    .find((n) => `${String(n.options.host)}:${String(n.options.port)}` === nodeKey);
}

/**
 * With `readOn`, the connection a read was answered on: a shortfall unless `touchKey`'s primary
 * is still that connection (the WAIT counts the replicas of the node it is sent to).
 */
export function createReplicaAcks(
  redis: Redis | Cluster,
  replicas: number,
  timeoutMs: number,
): ReplicaAcks {
  if (replicas <= 0) return () => Promise.resolve(true);
  const pending = new Map<Redis, Promise<boolean>>();

  return (touchKey, readOn) => {
    const conn = primaryConnection(redis, touchKey);
    if (!conn || (readOn !== undefined && readOn !== conn)) return Promise.resolve(false);
    const joined = pending.get(conn);
    if (joined) return joined;
    const next = new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
      pending.delete(conn);
      // An INCR that failed (NOREPLICAS, OOM) moved no offset: the WAIT then proves nothing.
      const touched = conn.incr(touchKey).then(
        () => true,
        () => false,
      );
      // A connection-level failure stays an error (the caller's 503 for an unavailable Redis); a
      // refusal by the node (WAIT on a replica) is a shortfall.
      const acked = conn.wait(replicas, timeoutMs).catch((err: unknown) => {
        if (isTransient(err)) throw err;
        return 0;
      });
      return Promise.all([touched, acked]).then(([t, n]) => t && n >= replicas);
    });
    pending.set(conn, next);
    return next;
  };
}
