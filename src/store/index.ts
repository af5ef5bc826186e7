export type { DeadLetter, DeadLetterPage, DeadLetters } from './dead-letters.ts';
export { createDeadLetters } from './dead-letters.ts';
export { guard, unavailable } from './guard.ts';
export type {
  AcceptInput,
  AcceptResult,
  FinishInput,
  Ledger,
  StartResult,
  StoredReceipt,
} from './ledger.ts';
export { createLedger, isTerminal, publicReceipt } from './ledger.ts';
export type {
  ApplyInput,
  ApplyOutcome,
  ApplyOutcomeKind,
  KvRecord,
  ListedKey,
  RecordStore,
} from './records.ts';
export { createRecordStore } from './records.ts';
