import { readFileSync } from 'node:fs';

import { expect, it } from 'vitest';

import {
  CLIENT_TYPES_FILE,
  openApiDocument,
  renderClientTypes,
} from '../../scripts/generate-client-types.ts';

it('the checked-in openapi-types.ts is what `npm run client:generate` writes from the app now', async () => {
  const fresh = await renderClientTypes(await openApiDocument());
  const checkedIn = readFileSync(CLIENT_TYPES_FILE, 'utf8');
  // On failure: run `npm run client:generate` and commit the result.
  expect(checkedIn).toBe(fresh);
});

it('the document is the one the app serves, with every route', async () => {
  const doc = (await openApiDocument()) as { openapi: string; paths: Record<string, unknown> };
  expect(doc.openapi).toBe('3.1.0');
  expect(Object.keys(doc.paths)).toEqual(
    expect.arrayContaining(['/v1/keys/{key}', '/v1/keys', '/v1/ops/{id}', '/v1/dlq/{id}']),
  );
});
