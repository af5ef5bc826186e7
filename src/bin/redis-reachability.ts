import type { Logger } from '../core/index.ts';
import { type RedisClient, waitReady } from '../redis/index.ts';
import { endpointsOf } from './startup-checks.ts';

/**
 * Waits up to `ms` for a client to be ready. If it is not, logs one line naming the Redis by
 * host:port (never its password) and the last connection error's cause, e.g. ECONNREFUSED; the
 * client keeps retrying, and its repeated errors are folded by the logger.
 */
export async function awaitRedis(
  client: RedisClient,
  which: 'queue' | 'data',
  url: string,
  ms: number,
  logger: Logger,
  consequence: string,
): Promise<boolean> {
  let cause: string | undefined;
  const onError = (err: NodeJS.ErrnoException) => {
    cause = err.code ?? err.message;
  };
  client.on('error', onError);
  const ready = await waitReady(client, ms);
  client.off('error', onError);
  if (!ready) {
    const where = endpointsOf(url)
      .map((e) => `${e.host}:${String(e.port)}`)
      .join(',');
    logger.warn(
      { redis: where, cause: cause ?? 'no answer' },
      `${which} Redis at ${where} not reachable yet (${cause ?? 'no answer'}); ${consequence}`,
    );
  }
  return ready;
}
