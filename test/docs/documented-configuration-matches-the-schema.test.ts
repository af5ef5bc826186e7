import { describe, expect, it } from 'vitest';

import { CONFIG_KEYS, loadConfig } from '../../src/core/index.ts';
import { codeSpans, readDoc, tableRows } from './markdown.ts';

const defaults: Record<string, unknown> = loadConfig({});

/** How a default is written in the docs' tables; undefined when the table shows none. */
function shown(value: unknown): string | undefined {
  if (value === undefined || (Array.isArray(value) && value.length === 0)) return undefined;
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
    return String(value);
  }
  throw new Error(`no table form for ${JSON.stringify(value)}`);
}

interface Documented {
  name: string;
  default: string | undefined;
}

/**
 * The variables a page's tables document: rows whose first cell names variables in code spans
 * (`A` / `B`), with the defaults in the second cell's code spans, one per variable, or none.
 */
function documented(page: string): Documented[] {
  const out: Documented[] = [];
  for (const [first = '', second = ''] of tableRows(readDoc(page))) {
    const names = codeSpans(first);
    if (names.length === 0 || !names.every((n) => /^[A-Z][A-Z0-9_]*$/.test(n))) continue;
    const values = codeSpans(second);
    expect(
      values.length === 0 || values.length === names.length,
      `${page}: "${first}" has ${String(values.length)} defaults`,
    ).toBe(true);
    names.forEach((name, i) => out.push({ name, default: values[i] }));
  }
  return out;
}

describe.each(['README.md', 'docs/configuration.md'])('%s', (page) => {
  it('documents only variables the config schema has, each with its real default', () => {
    const rows = documented(page);
    expect(rows.length).toBeGreaterThan(5);
    for (const row of rows) {
      expect(CONFIG_KEYS, `${page} documents ${row.name}`).toContain(row.name);
      expect(row.default, `${page}: default of ${row.name}`).toBe(shown(defaults[row.name]));
    }
  });
});

it('docs/configuration.md documents every variable exactly once', () => {
  const names = documented('docs/configuration.md').map((r) => r.name);
  expect([...names].sort()).toEqual([...CONFIG_KEYS].sort());
});
