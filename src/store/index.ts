export { createRecordStore } from './records.ts';
export type {
  RecordStore,
  KvRecord,
  ListedKey,
  ApplyInput,
  ApplyOutcome,
  ApplyOutcomeKind,
} from './records.ts';
export { createLedger, isTerminal, publicReceipt } from './ledger.ts';
export type { Ledger, AcceptResult, StoredReceipt, FinishInput } from './ledger.ts';
