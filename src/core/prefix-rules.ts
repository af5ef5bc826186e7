import { type PrefixRule, type Principal, type Scope, scopeAllows, SCOPES } from './principal.ts';

/**
 * Key-prefix restrictions of a principal: the longest rule whose prefix starts the key decides
 * the scope on that key (capped at the principal's own scope); a key no rule covers is denied.
 * Keys are compared exactly as the request pipeline parsed them, code unit by code unit, so a
 * prefix is a plain string prefix: `acme/` covers `acme/x` and not `acme2/x`; `acme` covers both.
 */

/** The rules of a principal, or undefined when it may touch every key. */
export function rulesOf(p: Principal): readonly PrefixRule[] | undefined {
  return p.prefixRules ?? p.prefixes?.map((prefix) => ({ prefix, scope: p.scope }));
}

const lower = (a: Scope, b: Scope): Scope => (scopeAllows(a, b) ? b : a);

/** The scope `p` holds on `key`; null when no rule grants any. */
export function scopeOnKey(p: Principal, key: string): Scope | null {
  const rules = rulesOf(p);
  if (!rules) return p.scope;
  let best: PrefixRule | undefined;
  for (const r of rules) {
    if (key.startsWith(r.prefix) && (!best || r.prefix.length > best.prefix.length)) best = r;
  }
  if (!best || best.scope === 'none') return null;
  return lower(best.scope, p.scope);
}

/** Whether `p` may do what needs `need` on `key`. */
export function keyAllows(p: Principal, key: string, need: Scope): boolean {
  const have = scopeOnKey(p, key);
  return have !== null && scopeAllows(have, need);
}

/**
 * Whether some key that starts with `prefix` is readable by `p`: the key `prefix` itself is, or
 * a longer readable rule lies under it (every key under `prefix` is governed either by the rule
 * that governs `prefix` or by a longer rule that starts with it).
 */
export function anyReadableUnder(p: Principal, prefix: string): boolean {
  const rules = rulesOf(p);
  if (!rules) return true;
  if (keyAllows(p, prefix, 'read')) return true;
  return rules.some(
    (r) =>
      r.scope !== 'none' &&
      r.prefix.length > prefix.length &&
      r.prefix.startsWith(prefix) &&
      keyAllows(p, r.prefix, 'read'),
  );
}

const utf8 = (s: string) => Buffer.from(s, 'utf8');
const bytesBefore = (a: string, b: string) => Buffer.compare(utf8(a), utf8(b)) < 0;

/** The greatest string of at most `budget` UTF-8 bytes (byte order = code point order). */
function greatestOf(budget: number): string {
  let s = '';
  let left = budget;
  for (; left >= 4; left -= 4) s += '\u{10FFFF}';
  return s + (left === 3 ? '\uFFFF' : left === 2 ? '\u07FF' : left === 1 ? '\u007F' : '');
}

/** The greatest string of at most `maxBytes` UTF-8 bytes that sorts before `s` (non-empty). */
function greatestBefore(s: string, maxBytes: number): string {
  // The last code point (a surrogate pair in a well-formed string) and what precedes it.
  const unit = s.charCodeAt(s.length - 1);
  const cut = s.length - (s.length > 1 && unit >= 0xdc00 && unit <= 0xdfff ? 2 : 1);
  const last = s.codePointAt(cut) ?? 0;
  const head = s.slice(0, cut);
  if (last === 0) return head;
  let d = last - 1;
  if (d >= 0xd800 && d <= 0xdfff) d = 0xd7ff;
  const stem = head + String.fromCodePoint(d);
  return stem + greatestOf(maxBytes - Buffer.byteLength(stem));
}

/**
 * Where a listing for `p` may go on after `key`, a key `p` may not read, without naming it: a
 * position made from `p`'s own rules, at or after `key`, with no key `p` may read between `key`
 * and it (inclusive).
 * Every readable key after `key` either is under a readable rule whose prefix sorts after `key`,
 * or is past the whole range of the `none` rule that governs `key`; so the position is just
 * before the first of those. Undefined when no key after `key` is readable. Order is UTF-8 byte
 * order, as listings are; keys are at most `maxKeyBytes`.
 */
export function listingPositionAfter(
  p: Principal,
  key: string,
  maxKeyBytes: number,
): string | undefined {
  const rules = rulesOf(p) ?? [];
  let best: string | undefined;
  const consider = (candidate: string) => {
    if (best === undefined || bytesBefore(candidate, best)) best = candidate;
  };
  for (const r of rules) {
    if (r.scope === 'none' || r.prefix === '' || Buffer.byteLength(r.prefix) > maxKeyBytes)
      continue;
    if (bytesBefore(key, r.prefix)) consider(greatestBefore(r.prefix, maxKeyBytes));
  }
  let governing: PrefixRule | undefined;
  for (const r of rules) {
    if (key.startsWith(r.prefix) && (!governing || r.prefix.length > governing.prefix.length)) {
      governing = r;
    }
  }
  if (governing?.scope === 'none') {
    const rest = maxKeyBytes - Buffer.byteLength(governing.prefix);
    if (rest >= 0) consider(governing.prefix + greatestOf(rest));
  }
  return best;
}

const RULE_SCOPES: readonly string[] = [...SCOPES, 'none'];

/**
 * Parses a rule as written on the command line: `P` grants the key's scope under P, `P=read`
 * (or `=write`, `=admin`, `=none`) another one. Only a known scope after the last `=` is read as
 * one, so `a=b/` is the prefix `a=b/`. Throws with a message for a scope above the key's.
 */
export function parsePrefixRule(text: string, keyScope: Scope): PrefixRule {
  const eq = text.lastIndexOf('=');
  const tail = eq === -1 ? '' : text.slice(eq + 1);
  const rule: PrefixRule = RULE_SCOPES.includes(tail)
    ? { prefix: text.slice(0, eq), scope: tail as Scope | 'none' }
    : { prefix: text, scope: keyScope };
  return checkPrefixRule(rule, keyScope);
}

/** A rule as given (file, API, CLI), checked against the key's scope; throws with a message. */
export function checkPrefixRule(rule: PrefixRule, keyScope: Scope): PrefixRule {
  if (!rule.prefix.isWellFormed()) throw new Error(`prefix is not well-formed Unicode`);
  if (rule.scope !== 'none' && !scopeAllows(keyScope, rule.scope)) {
    throw new Error(
      `prefix "${rule.prefix}" asks for ${rule.scope}, above the key's scope ${keyScope}`,
    );
  }
  return rule;
}

/** `P` or `P=scope`, as parsePrefixRule reads it back. */
export function formatPrefixRule(rule: PrefixRule, keyScope: Scope): string {
  const eq = rule.prefix.lastIndexOf('=');
  const ambiguous = eq !== -1 && RULE_SCOPES.includes(rule.prefix.slice(eq + 1));
  return rule.scope === keyScope && !ambiguous ? rule.prefix : `${rule.prefix}=${rule.scope}`;
}
