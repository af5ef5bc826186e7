import { existsSync, readdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

import { expect, it } from 'vitest';

import { headingAnchor, prose, readDoc, ROOT } from './markdown.ts';

const PAGES = [
  'README.md',
  'BENCHMARKS.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];

/**
 * Pages the README links that arrive with the features they describe. An entry here whose file
 * exists fails the test, so the list only shrinks.
 */
const ARRIVING = new Set<string>([]);

function anchors(page: string): Set<string> {
  return new Set(
    prose(readDoc(page))
      .split('\n')
      .filter((line) => /^#{1,6} /.test(line))
      .map((line) => headingAnchor(line.replace(/^#+ /, ''))),
  );
}

it.each(PAGES)('every relative link in %s resolves, anchors included', (page) => {
  const problems: string[] = [];
  for (const m of prose(readDoc(page)).matchAll(/\]\(([^)\s]+)\)/g)) {
    const href = m[1] ?? '';
    if (/^[a-z]+:/i.test(href)) continue;
    const [path = '', anchor] = href.split('#');
    const target = path === '' ? page : relative(ROOT, join(ROOT, dirname(page), path));
    if (ARRIVING.has(target)) continue;
    if (!existsSync(join(ROOT, target))) {
      problems.push(`${href}: no ${target}`);
      continue;
    }
    if (anchor !== undefined && target.endsWith('.md') && !anchors(target).has(anchor)) {
      problems.push(`${href}: no heading #${anchor} in ${target}`);
    }
  }
  expect(problems).toEqual([]);
});

it('pages listed as arriving do not exist yet', () => {
  expect([...ARRIVING].filter((p) => existsSync(join(ROOT, p)))).toEqual([]);
});
