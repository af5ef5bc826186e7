export { createClient, keyPath } from './client.ts';
export type {
  ClientOptions,
  CreateOptions,
  DeleteOptions,
  GetOptions,
  KvqClient,
  PutOptions,
  ReplayOptions,
  Wait,
  WaitForOpOptions,
  WriteOptions,
  WriteResult,
} from './contract.ts';
export { MAX_WAIT_SECONDS } from './contract.ts';
export { CLIENT_ERROR_CODES, isKvqError, KvqError } from './errors.ts';
export type { components, paths } from './openapi-types.ts';
export type {
  ApiKey,
  AuditEntry,
  AuditPage,
  CreateApiKeyInput,
  CreatedApiKey,
  DeadLetter,
  DeadLetterPage,
  DeadLetterSummary,
  Health,
  JsonValue,
  KeyListItem,
  KeyListPage,
  KeyRecord,
  ListAuditEntriesQuery,
  ListDeadLettersQuery,
  ListKeysQuery,
  OpReceipt,
  OpStatus,
  Problem,
  ReplayAllResult,
} from './types.ts';
export { isTerminal, TERMINAL_STATUSES } from './types.ts';
