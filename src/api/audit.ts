import type { Context } from 'hono';

import { AppError, type Logger } from '../core/index.ts';
import type { AuditAction, AuditLog, AuditOutcome, AuditRecord } from '../store/index.ts';
import { actorOf } from './middleware/admin-auth.ts';
import { requestIdOf } from './problem.ts';

/**
 * Recording admin actions: one structured log line per entry, and the entry in the audit stream.
 * The stream write never changes the action's answer: a failed write is logged (with the whole
 * entry, so the log still holds it) and counted, never thrown.
 */
export interface Auditor {
  /** Records what `c`'s principal did; resolves once the entry is written or its loss logged. */
  record(
    c: Context,
    entry: { action: AuditAction; target: string; detail?: string | undefined },
    result: { outcome: AuditOutcome; code?: string | undefined },
  ): Promise<void>;
  /**
   * Runs an admin action and records it: ok when it resolves, else refused (4xx) or failed, with
   * the error's code; the action's own result or error is passed on unchanged.
   */
  audited<T>(
    c: Context,
    entry: { action: AuditAction; target: string },
    action: () => Promise<T>,
  ): Promise<T>;
}

/** How an action that threw ended: refused for a client error, else failed. */
export function outcomeOf(err: unknown): { outcome: AuditOutcome; code: string } {
  if (err instanceof AppError) {
    return { outcome: err.status < 500 ? 'refused' : 'failed', code: err.code };
  }
  return { outcome: 'failed', code: 'INTERNAL' };
}

export function createAuditor(deps: {
  auditLog: AuditLog;
  logger: Logger;
  /** Counts stream writes that failed (kvq_audit_write_failures_total). */
  onWriteFailed?: (() => void) | undefined;
  /** The current trace id, when tracing is on. */
  traceId?: (() => string | undefined) | undefined;
}): Auditor {
  const { auditLog, logger } = deps;
  const auditor: Auditor = {
    async record(c, entry, result) {
      const rec: AuditRecord = {
        actor: actorOf(c),
        action: entry.action,
        target: entry.target,
        outcome: result.outcome,
        requestId: requestIdOf(c),
      };
      if (result.code !== undefined) rec.code = result.code;
      if (entry.detail !== undefined) rec.detail = entry.detail;
      const traceId = deps.traceId?.();
      if (traceId !== undefined) rec.traceId = traceId;
      logger.info({ audit: rec }, `audit: ${rec.action} ${rec.target} ${rec.outcome}`);
      try {
        await auditLog.append(rec);
      } catch (err) {
        deps.onWriteFailed?.();
        logger.error({ err, audit: rec }, 'audit log write failed; the entry is only in this log');
      }
    },
    async audited<T>(
      c: Context,
      entry: { action: AuditAction; target: string },
      action: () => Promise<T>,
    ): Promise<T> {
      let value: T;
      try {
        value = await action();
      } catch (err) {
        await auditor.record(c, entry, outcomeOf(err));
        throw err;
      }
      await auditor.record(c, entry, { outcome: 'ok' });
      return value;
    },
  };
  return auditor;
}
