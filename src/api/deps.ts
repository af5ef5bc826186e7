import type { JobPayload, Logger } from '../core/index.ts';
import type { Ledger, RecordStore } from '../store/index.ts';
import type { OpWaiter } from './op-waiter.ts';

/** Everything the HTTP layer needs, built by a composition root. */
export interface ApiDeps {
  ledger: Ledger;
  records: RecordStore;
  /** Puts one job on the queue; rejects when the queue Redis cannot take it. */
  enqueue(payload: JobPayload): Promise<void>;
  waiter: OpWaiter;
  logger: Logger;
  limits: { maxKeyBytes: number; maxValueBytes: number };
  readAfterWaitMs: number;
  docsEnabled: boolean;
  /** True once shutdown began: /readyz fails and writes are refused. */
  isShuttingDown(): boolean;
}
