export {
  type ApiKeyStore,
  checkApiKey,
  createApiKeyStore,
  newApiKey,
  parseKeysFile,
  publicApiKey,
  type StoredApiKey,
} from './api-keys.ts';
export type {
  AuditAction,
  AuditEntry,
  AuditLog,
  AuditOutcome,
  AuditPage,
  AuditRecord,
} from './audit-log.ts';
export { AUDIT_ACTIONS, AUDIT_OUTCOMES, createAuditLog } from './audit-log.ts';
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
} from './ledger.ts';
export { createLedger } from './ledger.ts';
export { checkPartitionCount, PartitionCountMismatch } from './partition-count.ts';
export { isTerminal, publicReceipt, type StoredReceipt } from './receipts.ts';
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
