export type { DeadLetter, DeadLetterPage, DeadLetters, DeadLetterSummary } from './dead-letters.ts';
export { createDeadLetters } from './dead-letters.ts';
export { guard, unavailable } from './guard.ts';
export type {
  AcceptInput,
  AcceptResult,
  FinishInput,
  Inspection,
  Ledger,
  SealResult,
  StartResult,
  StoredReceipt,
} from './ledger.ts';
export { createLedger, isTerminal, publicReceipt } from './ledger.ts';
export { checkPartitionCount, PartitionCountMismatch } from './partition-count.ts';
export type {
  ApplyInput,
  ApplyOutcome,
  ApplyOutcomeKind,
  KeyState,
  KvRecord,
  ListedKey,
  RecordStore,
  Resolution,
} from './records.ts';
export { createRecordStore } from './records.ts';
export { createReplicaAcks, type ReplicaAcks } from './replica-acks.ts';
