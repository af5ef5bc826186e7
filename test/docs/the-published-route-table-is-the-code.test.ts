import { expect, it } from 'vitest';

import { ROUTE_ACCESS } from '../../src/api/index.ts';
import { codeSpans, readDoc, tableRows } from './markdown.ts';

/** docs/security.md publishes the route -> scope table: row for row what access.ts enforces. */
it('docs/security.md lists every route of access.ts with its scope, and no other', () => {
  const rows = tableRows(readDoc('docs/security.md'))
    .filter(([route = '']) => /^`[A-Z*]+ \//.test(route))
    .map(
      ([route = '', scope = '']) => `${codeSpans(route)[0] ?? ''} ${codeSpans(scope)[0] ?? 'open'}`,
    );
  expect(rows).toEqual(ROUTE_ACCESS.map((r) => `${r.method} ${r.path} ${r.scope}`));
});
