import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import {
  anyReadableUnder,
  formatPrefixRule,
  keyAllows,
  listingPositionAfter,
  parsePrefixRule,
  scopeOnKey,
} from './prefix-rules.ts';
import { type PrefixRule, type Principal, type Scope, SCOPES } from './principal.ts';

const key = (scope: Scope, prefixRules?: PrefixRule[]): Principal => ({
  keyId: 'key_t',
  name: 't',
  scope,
  prefixRules,
});

describe('scope x prefix', () => {
  const acme = key('write', [
    { prefix: 'acme/', scope: 'write' },
    { prefix: 'acme/config/', scope: 'read' },
    { prefix: 'acme/config/secret/', scope: 'none' },
    { prefix: 'shared', scope: 'read' },
  ]);

  it.each([
    ['acme/x', 'write'],
    ['acme/', 'write'],
    ['acme/config/x', 'read'],
    ['acme/config/', 'read'],
    ['acme/config/secret/x', null],
    ['acme/config/secre', 'read'],
    ['acme2/x', null],
    ['acme', null],
    ['ACME/x', null],
    ['shared', 'read'],
    ['shared/x', 'read'],
    ['sharedx', 'read'],
    ['other', null],
  ] as const)('%j -> %s (longest prefix wins, deny by default)', (k, scope) => {
    expect(scopeOnKey(acme, k)).toBe(scope);
  });

  it('every scope on every key: no rules means the key scope everywhere', () => {
    for (const s of SCOPES) {
      for (const need of SCOPES) {
        expect(keyAllows(key(s), 'any/key', need)).toBe(SCOPES.indexOf(s) >= SCOPES.indexOf(need));
      }
    }
  });

  it('a rule never lifts a key above its own scope', () => {
    expect(scopeOnKey(key('read', [{ prefix: 'a', scope: 'write' }]), 'a1')).toBe('read');
  });

  it('an empty prefix covers every key; longer rules still win', () => {
    const p = key('write', [
      { prefix: '', scope: 'read' },
      { prefix: 'mine/', scope: 'write' },
    ]);
    expect(scopeOnKey(p, 'x')).toBe('read');
    expect(scopeOnKey(p, 'mine/x')).toBe('write');
  });

  it('legacy `prefixes` alone grant the key scope', () => {
    const p: Principal = { keyId: 'k', name: 'n', scope: 'read', prefixes: ['a/'] };
    expect(scopeOnKey(p, 'a/x')).toBe('read');
    expect(scopeOnKey(p, 'b/x')).toBeNull();
  });
});

/** Strings from a small alphabet with the characters that matter at a boundary. */
const piece = fc.string({
  unit: fc.constantFrom('a', 'c', 'e', 'm', '/', '2', ':', 'é', '😀', '\u0000'),
  maxLength: 6,
});

describe('prefix boundaries (property)', () => {
  it('a key is allowed exactly when some granting rule is its longest matching prefix', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            prefix: piece,
            scope: fc.constantFrom<Scope | 'none'>('read', 'write', 'none'),
          }),
          { minLength: 1, maxLength: 5 },
        ),
        piece,
        piece,
        (rules, a, b) => {
          const p = key('write', rules);
          const k = a + b;
          // The model: the longest matching prefix, by code points (Array.from, deliberately).
          const codePoints = (s: string) => Array.from(s);
          const cps = codePoints(k);
          let best: PrefixRule | undefined;
          for (const r of rules) {
            const rc = codePoints(r.prefix);
            const matches = rc.length <= cps.length && rc.every((c, i) => cps[i] === c);
            if (matches && (!best || rc.length > codePoints(best.prefix).length)) best = r;
          }
          const expected = !best || best.scope === 'none' ? null : best.scope;
          // Equal-length matches are equal strings: either rule gives the answer.
          const tie = rules.filter((r) => best && r.prefix === best.prefix);
          if (tie.length > 1) return;
          expect(scopeOnKey(p, k)).toBe(expected);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('acme/ never covers acme2/..., acme covers both, and neither covers acm', () => {
    fc.assert(
      fc.property(piece, (rest) => {
        const slash = key('read', [{ prefix: 'acme/', scope: 'read' }]);
        const bare = key('read', [{ prefix: 'acme', scope: 'read' }]);
        expect(keyAllows(slash, `acme2/${rest}`, 'read')).toBe(false);
        expect(keyAllows(slash, `acme/${rest}`, 'read')).toBe(true);
        expect(keyAllows(bare, `acme2/${rest}`, 'read')).toBe(true);
        expect(keyAllows(bare, `acme/${rest}`, 'read')).toBe(true);
        expect(keyAllows(bare, 'acm', 'read')).toBe(false);
        expect(keyAllows(slash, 'acme', 'read')).toBe(false);
      }),
    );
  });

  it('anyReadableUnder(q) holds exactly when some key under q is readable', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({ prefix: piece, scope: fc.constantFrom<Scope | 'none'>('read', 'none') }),
          { minLength: 1, maxLength: 4 },
        ),
        piece,
        (rules, q) => {
          const p = key('read', rules);
          // Every key that could decide it: q itself and q extended to each rule under it.
          const probes = [q, ...rules.filter((r) => r.prefix.startsWith(q)).map((r) => r.prefix)];
          const some = probes.some((k) => keyAllows(p, k, 'read'));
          expect(anyReadableUnder(p, q)).toBe(some);
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('rules on the command line', () => {
  it('P grants the key scope, P=scope another, and only a known scope counts', () => {
    expect(parsePrefixRule('acme/', 'write')).toEqual({ prefix: 'acme/', scope: 'write' });
    expect(parsePrefixRule('acme/cfg/=read', 'write')).toEqual({
      prefix: 'acme/cfg/',
      scope: 'read',
    });
    expect(parsePrefixRule('a=b/', 'read')).toEqual({ prefix: 'a=b/', scope: 'read' });
    expect(parsePrefixRule('x/=none', 'read')).toEqual({ prefix: 'x/', scope: 'none' });
    expect(parsePrefixRule('=read', 'read')).toEqual({ prefix: '', scope: 'read' });
    expect(() => parsePrefixRule('a/=write', 'read')).toThrow(/above the key's scope/);
  });

  it('format reads back as the same rule', () => {
    fc.assert(
      fc.property(
        fc.string(),
        fc.constantFrom<Scope | 'none'>('read', 'none'),
        fc.constantFrom<Scope>('read', 'write'),
        (prefix, scope, keyScope) => {
          if (!prefix.isWellFormed()) return;
          const rule = { prefix, scope };
          expect(parsePrefixRule(formatPrefixRule(rule, keyScope), keyScope)).toEqual(rule);
        },
      ),
    );
  });
});

describe('listingPositionAfter', () => {
  const MAX = 5;
  const ALPHABET = ['a', 'b', 'é', '\u{1F600}'];
  /** Every key of at most MAX bytes over ALPHABET, in byte order. */
  const all: string[] = [];
  const grow = (s: string) => {
    for (const ch of ALPHABET) {
      const next = s + ch;
      if (Buffer.byteLength(next) > MAX) continue;
      all.push(next);
      grow(next);
    }
  };
  grow('');
  all.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  const after = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b)) > 0;

  const rule = fc.record({
    prefix: fc
      .array(fc.constantFrom(...ALPHABET), { minLength: 1, maxLength: 3 })
      .map((c) => c.join('')),
    scope: fc.constantFrom<Scope | 'none'>('read', 'none'),
  });

  it('lies at or after the key and before every readable key after it', () => {
    fc.assert(
      fc.property(fc.array(rule, { minLength: 1, maxLength: 5 }), (rules) => {
        const p = key('write', rules);
        for (const k of all) {
          if (keyAllows(p, k, 'read')) continue;
          const pos = listingPositionAfter(p, k, MAX);
          const readableAfter = all.filter((x) => after(x, k) && keyAllows(p, x, 'read'));
          if (pos === undefined) {
            expect(readableAfter).toEqual([]);
            continue;
          }
          expect(Buffer.byteLength(pos)).toBeLessThanOrEqual(MAX);
          expect(pos === k || after(pos, k)).toBe(true);
          for (const x of readableAfter) expect([x, after(x, pos)]).toEqual([x, true]);
        }
      }),
    );
  });

  it('names no key it was given: the position after a hidden key comes from the rules', () => {
    const p = key('write', [{ prefix: 'acme/', scope: 'read' }]);
    expect(listingPositionAfter(p, 'aa-secret', 32)?.startsWith('acme')).toBe(true);
    expect(listingPositionAfter(p, 'zz-secret', 32)).toBeUndefined();
  });
});
