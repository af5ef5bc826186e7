import { readFileSync } from 'node:fs';

import { describe, expect, it } from 'vitest';

import {
  buildCollection,
  buildEnvironment,
  ENVIRONMENT_VARIABLES,
} from '../../postman/build-collection.ts';

const read = (name: string): unknown =>
  JSON.parse(readFileSync(new URL(`../../postman/${name}`, import.meta.url), 'utf8'));

const collection = buildCollection();
const requests = collection.item.flatMap((f) => f.item.map((r) => ({ folder: f.name, ...r })));
const scriptOf = (r: (typeof requests)[number], listen: string) =>
  (r.event.find((e) => e.listen === listen)?.script.exec ?? []).join('\n');

/** Every `{{name}}` in the request itself: URL, headers, body. */
function variablesUsed(r: (typeof requests)[number]): string[] {
  const text = JSON.stringify(r.request);
  return [...text.matchAll(/\{\{([^}]+)\}\}/g)].map((m) => m[1] ?? '');
}

describe('the Postman collection', () => {
  it('is what postman/build-collection.ts generates (run npm run postman:build)', () => {
    expect(read('kvq.postman_collection.json')).toEqual(JSON.parse(JSON.stringify(collection)));
    expect(read('local.postman_environment.json')).toEqual(buildEnvironment());
  });

  it('describes every folder and request, and says what answer to expect', () => {
    for (const f of collection.item) expect(f.description.length, f.name).toBeGreaterThan(40);
    for (const r of requests) {
      const d = (r.request as { description?: string }).description ?? '';
      expect(d, r.name).toMatch(/Expected: \*\*\d{3}/);
    }
  });

  it('documents every environment variable in its description', () => {
    for (const v of ENVIRONMENT_VARIABLES) {
      expect(collection.info.description).toContain(`\`${v}\``);
    }
  });

  it('has requests that read only the environment and what their own pre-request script set', () => {
    const environment = new Set<string>(ENVIRONMENT_VARIABLES);
    for (const r of requests) {
      const pre = scriptOf(r, 'prerequest');
      for (const v of variablesUsed(r)) {
        if (environment.has(v) || v.startsWith('$')) continue;
        expect(pre, `${r.name} uses {{${v}}}`).toContain(`pm.variables.set('${v}'`);
      }
      // Nothing is handed to a later request: no collection, environment or global variables.
      for (const listen of ['prerequest', 'test']) {
        expect(scriptOf(r, listen), r.name).not.toMatch(
          /pm\.(collectionVariables|environment|globals)\.set/,
        );
      }
    }
  });
});
