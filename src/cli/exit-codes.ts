import type { KvqError, OpStatus } from '../client/index.ts';

/** The CLI's exit codes: one per kind of outcome, so that scripts can branch on them. */
export const EXIT = {
  OK: 0,
  /** Anything not listed below: a request the server refused (400, 413, ...), a server error. */
  ERROR: 1,
  /** The command line was wrong (unknown command or option, missing argument, a bad --url). */
  USAGE: 2,
  /** The server could not answer now: 503 (Retry-After), unreachable, or no answer in time. */
  UNAVAILABLE: 3,
  /** 401 or 403: a missing or wrong API key, or one whose scope or prefixes do not allow this. */
  AUTH: 4,
  /** 404: no such key, op or dead letter. */
  NOT_FOUND: 5,
  /** A condition failed: If-Match / If-None-Match (412), the key exists (409), not replayable. */
  CONDITION_FAILED: 6,
  /** A waited-for op ended without being applied (superseded, failed or dead). */
  NOT_APPLIED: 7,
  /** A wait ended before the op finished: it is still queued or active. */
  PENDING: 8,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** The exit code for a failed request. */
export function exitCodeOfError(err: KvqError): ExitCode {
  if (err.code === 'INVALID_URL') return EXIT.USAGE;
  if (err.status === 0 || err.status === 503) return EXIT.UNAVAILABLE;
  if (err.status === 401 || err.status === 403) return EXIT.AUTH;
  if (err.status === 404) return EXIT.NOT_FOUND;
  if (err.status === 409 || err.status === 412) return EXIT.CONDITION_FAILED;
  return EXIT.ERROR;
}

/** The exit code for an op's status after a wait. */
export function exitCodeOfStatus(status: OpStatus | 'accepted'): ExitCode {
  if (status === 'applied') return EXIT.OK;
  if (status === 'accepted' || status === 'queued' || status === 'active') return EXIT.PENDING;
  return EXIT.NOT_APPLIED;
}
