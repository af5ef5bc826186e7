import { readFile } from 'node:fs/promises';

import type { Logger } from '../../core/index.ts';
import { parseKeysFile, type StoredApiKey } from '../../store/index.ts';

export interface KeysFile {
  /** The keys as last read successfully, by digest. */
  current(): ReadonlyMap<string, StoredApiKey>;
  /** Reads the file again if its text changed; a bad file keeps the last good keys (logged). */
  reload(): Promise<void>;
}

const byDigest = (keys: StoredApiKey[]) => new Map(keys.map((k) => [k.digest, k]));

/**
 * API_KEYS_FILE: read once now (a missing or bad file fails start-up), then by `reload`, which the
 * composition root calls on a timer. Polling rather than fs.watch: a Kubernetes Secret volume
 * is updated by swapping a symlink, which watchers on the file miss.
 */
export async function createKeysFile(path: string, logger: Logger): Promise<KeysFile> {
  let text = await readFile(path, 'utf8');
  let keys: ReadonlyMap<string, StoredApiKey>;
  try {
    keys = byDigest(parseKeysFile(text));
  } catch (err) {
    throw new Error(`API_KEYS_FILE ${path}: ${err instanceof Error ? err.message : String(err)}`, {
      cause: err,
    });
  }
  logger.info({ path, keys: keys.size }, 'API keys file read');
  return {
    current: () => keys,
    async reload() {
      let next: string;
      try {
        next = await readFile(path, 'utf8');
      } catch (err) {
        logger.error({ err, path }, 'API keys file unreadable; keeping the keys last read');
        return;
      }
      if (next === text) return;
      text = next;
      try {
        keys = byDigest(parseKeysFile(next));
        logger.info({ path, keys: keys.size }, 'API keys file changed: reloaded');
      } catch (err) {
        logger.error(
          { path, problem: err instanceof Error ? err.message : String(err) },
          'API keys file is invalid; keeping the keys last read',
        );
      }
    },
  };
}
