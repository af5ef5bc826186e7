import type { Writable } from 'node:stream';

import type {
  DeadLetter,
  DeadLetterSummary,
  KvqError,
  OpReceipt,
  WriteResult,
} from '../client/index.ts';

/** Where a command writes: stdout for results, stderr for errors; JSON or lines for humans. */
export interface Output {
  readonly json: boolean;
  /** A result: as JSON (one document) in --json mode, else the human text. */
  result(value: unknown, human: () => string): Promise<void>;
  /** A line for humans on stdout (nothing in --json mode). */
  line(text: string): Promise<void>;
  error(err: KvqError): Promise<void>;
  /** A usage or argument problem, on stderr. */
  usage(message: string, help: string): Promise<void>;
}

function write(stream: Writable, text: string): Promise<void> {
  // Wait for the write to be flushed: the CLI exits right after its command returns.
  return new Promise((resolve, reject) => {
    stream.write(text, (err) => (err ? reject(err) : resolve()));
  });
}

export function createOutput(json: boolean, stdout: Writable, stderr: Writable): Output {
  return {
    json,
    async result(value, human) {
      await write(stdout, json ? `${JSON.stringify(value)}\n` : ensureNewline(human()));
    },
    async line(text) {
      if (!json) await write(stdout, ensureNewline(text));
    },
    async error(err) {
      if (json) {
        const error = err.problem ?? { code: err.code, status: err.status, detail: err.detail };
        await write(
          stdout,
          `${JSON.stringify({ error: { ...error, retryAfter: err.retryAfter } })}\n`,
        );
      }
      const lines = [`kvq: ${err.code} (${statusText(err)}): ${err.detail}`];
      for (const e of err.errors) lines.push(`  ${e.path}: ${e.message}`);
      if (err.retryAfter !== undefined) lines.push(`  retry after ${String(err.retryAfter)} s`);
      await write(stderr, `${lines.join('\n')}\n`);
    },
    async usage(message, help) {
      await write(stderr, `kvq: ${message}\n\n${ensureNewline(help)}`);
    },
  };
}

const ensureNewline = (s: string) => (s === '' || s.endsWith('\n') ? s : `${s}\n`);

/** A JSON value as text: strings and scalars on one line, objects and arrays indented. */
export function jsonText(value: unknown): string {
  return JSON.stringify(value, null, 2);
}

export function describeOp(op: OpReceipt): string {
  const parts = [`op ${op.id}: ${op.status}`, `${op.type} ${op.key} version ${String(op.version)}`];
  if (op.error) parts.push(`${op.error.code}: ${op.error.message}`);
  if (op.replayOf) parts.push(`replay of ${op.replayOf}`);
  return parts.join(', ');
}

export function describeWrite(r: WriteResult, key: string): string {
  if (r.outcome === 'accepted' && r.op) {
    return `accepted: ${r.op.type} ${r.op.key} as version ${String(r.op.version)} (op ${r.op.id}; follow it with: kvq ops ${r.op.id} --wait)`;
  }
  if (r.outcome === 'applied' && r.record) {
    return `applied: ${r.record.key} ${r.created ? 'created' : 'updated'} at version ${String(r.record.version)}`;
  }
  if (r.outcome === 'applied' && !r.op) return `applied: ${key} deleted`;
  return r.op ? describeOp(r.op) : r.outcome;
}

export function deadLetterLine(d: DeadLetterSummary): string {
  return [d.id, d.failedAt, d.type ?? '-', d.key, `${d.error.code}: ${d.error.message}`].join('\t');
}

export function describeDeadLetter(d: DeadLetter): string {
  const lines = [
    `op        ${d.id}`,
    `key       ${d.key}`,
    `type      ${d.type ?? '(malformed job)'}`,
    `version   ${d.version === null ? '-' : String(d.version)}`,
    `attempts  ${String(d.attempts)}`,
    `accepted  ${d.acceptedAt ?? '-'}`,
    `failed    ${d.failedAt}`,
    `error     ${d.error.code}: ${d.error.message}`,
  ];
  if (d.op) lines.push(`op        ${jsonText(d.op).replaceAll('\n', '\n          ')}`);
  return lines.join('\n');
}

/** The status part of an error line: the HTTP status, or why there is none. */
function statusText(err: KvqError): string {
  if (err.status !== 0) return String(err.status);
  return err.code === 'INVALID_URL' ? 'not sent' : 'no answer';
}
