/**
 * Who a request acts as, once authenticated: the contract between authentication (which sets it),
 * authorization (scopes and key prefixes), rate limits, the audit log and tracing. Never holds
 * the secret itself.
 */

/** Scopes nest: admin includes write, write includes read. */
export const SCOPES = ['read', 'write', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

/** Whether a principal holding `have` may do what needs `need`. */
export function scopeAllows(have: Scope, need: Scope): boolean {
  return SCOPES.indexOf(have) >= SCOPES.indexOf(need);
}

export interface Principal {
  /** The key's public id (never the secret); what logs, metrics and the audit log name. */
  readonly keyId: string;
  readonly name: string;
  readonly scope: Scope;
  /**
   * Key prefixes this principal may touch; undefined = every key. Refined by the API-key work
   * (longest prefix wins, deny by default).
   */
  readonly prefixes?: readonly string[] | undefined;
  /** Requests per second this principal may make; undefined = the configured default. */
  readonly rateLimitPerSecond?: number | undefined;
}
