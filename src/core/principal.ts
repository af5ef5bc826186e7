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

/** `scope` on keys that start with `prefix`, unless a longer rule matches; `none` denies. */
export interface PrefixRule {
  readonly prefix: string;
  readonly scope: Scope | 'none';
}

export interface Principal {
  /** The key's public id (never the secret); what logs, metrics and the audit log name. */
  readonly keyId: string;
  readonly name: string;
  readonly scope: Scope;
  /**
   * Key prefixes this principal may touch (with some scope); undefined = every key. The exact
   * rules, with each prefix's scope, are in `prefixRules` (see prefix-rules.ts).
   */
  readonly prefixes?: readonly string[] | undefined;
  /**
   * Prefix rules (longest prefix wins, deny by default); undefined = `scope` on every key. When
   * only `prefixes` is set, each of them grants `scope`.
   */
  readonly prefixRules?: readonly PrefixRule[] | undefined;
  /** Requests per second this principal may make; undefined = the configured default. */
  readonly rateLimitPerSecond?: number | undefined;
}
