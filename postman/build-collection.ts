/**
 * Writes postman/kvq.postman_collection.json (v2.1) and postman/local.postman_environment.json.
 * The collection is generated so that every request, description, script and saved example stays
 * consistent; `npm run postman:build` regenerates it, `npm run test:postman` runs it with newman
 * (in collection order, and each request alone).
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { folders } from './requests.ts';
import { prerequestScript, testScript } from './sandbox.ts';
import type { Req } from './shared.ts';

const json = { 'Content-Type': 'application/json' };

function url(path: string) {
  const [p, q] = path.split('?');
  const out: Record<string, unknown> = {
    raw: `{{baseUrl}}${path}`,
    host: ['{{baseUrl}}'],
    path: (p ?? '').split('/').filter(Boolean),
  };
  if (q) {
    out.query = q.split('&').map((kv) => {
      const [key, value] = kv.split('=');
      return { key, value };
    });
  }
  return out;
}

function request(r: Req, withDescription: boolean) {
  const req: Record<string, unknown> = {
    method: r.method,
    header: Object.entries(r.headers ?? {}).map(([key, value]) => ({ key, value })),
    url: url(r.path),
  };
  if (r.auth === false) req.auth = { type: 'noauth' };
  const raw = r.rawBody ?? (r.body === undefined ? undefined : JSON.stringify(r.body, null, 2));
  if (raw !== undefined) req.body = { mode: 'raw', raw, options: { raw: { language: 'json' } } };
  if (withDescription) req.description = r.description;
  return req;
}

function item(r: Req) {
  const sets = r.helpers ?? [];
  return {
    name: r.name,
    event: [
      ...(r.setup
        ? [
            {
              listen: 'prerequest',
              script: { type: 'text/javascript', exec: prerequestScript(r.setup, sets) },
            },
          ]
        : []),
      {
        listen: 'test',
        script: { type: 'text/javascript', exec: testScript(r.tests, r.after, sets) },
      },
    ],
    request: request(r, true),
    response: [
      {
        name: `${r.name}: example`,
        originalRequest: request(r, false),
        code: r.example.status,
        header: Object.entries(r.example.headers ?? (r.example.body === undefined ? {} : json)).map(
          ([key, value]) => ({ key, value }),
        ),
        body: r.example.body === undefined ? '' : JSON.stringify(r.example.body, null, 2),
        _postman_previewlanguage: 'json',
      },
    ],
  };
}

const DESCRIPTION = `kvq API: writes are queued and applied by workers with per-key version fencing; reads come from the data Redis.

Import this collection and \`postman/local.postman_environment.json\`, select the environment "kvq local", and set its variables:

- \`baseUrl\`: where the API listens (\`kvq dev\` defaults to \`http://127.0.0.1:8080\`; no trailing slash).
- \`token\`: an API key with the \`admin\` scope (\`kvq keys create --scope admin\`, or \`./deploy.sh token\`; the dead-letter requests need admin), sent as \`Authorization: Bearer <token>\` on every request. Leave it empty when the server runs with \`AUTH=off\`.
- \`keyPrefix\`: every key the requests write starts with it (default \`postman/\`), followed by a fresh GUID.
- \`deadLetterPrefix\`: the "Dead letters" folder works on dead letters whose key starts with it (default \`postman-dlq/\`). See that folder for how to make some.

Every request runs alone ("Send") as well as in a collection run, in any order: its pre-request script makes what it needs through the API (a key written with \`Prefer: wait\`, so it is applied first), and its test script checks the answer and deletes what it wrote. No request reads a variable another request set, and a run leaves no keys behind.

Errors are \`application/problem+json\` (RFC 9457) with a \`code\` from one catalogue; each request's description says what it shows, which headers matter and what answer to expect.`;

/** The environment's variables; the collection description documents each. */
export const ENVIRONMENT_VARIABLES = ['baseUrl', 'token', 'keyPrefix', 'deadLetterPrefix'] as const;

export function buildCollection() {
  const collection = {
    info: {
      name: 'kvq',
      description: DESCRIPTION,
      schema: 'https://schema.getpostman.com/json/collection/v2.1.0/collection.json',
    },
    auth: { type: 'bearer', bearer: [{ key: 'token', value: '{{token}}', type: 'string' }] },
    item: folders().map((f) => ({
      name: f.name,
      description: f.description,
      item: f.items.map(item),
    })),
  };
  const names = collection.item.flatMap((f) => [f.name, ...f.item.map((i) => i.name)]);
  const repeated = names.filter((n, i) => names.indexOf(n) !== i);
  if (repeated.length > 0) {
    // newman's `folder` option selects by name: names must be unique.
    throw new Error(`names used twice: ${repeated.join(', ')}`);
  }
  return collection;
}

export function buildEnvironment() {
  const values: Record<(typeof ENVIRONMENT_VARIABLES)[number], [string, string]> = {
    baseUrl: ['http://127.0.0.1:8080', 'default'],
    token: ['', 'secret'],
    keyPrefix: ['postman/', 'default'],
    deadLetterPrefix: ['postman-dlq/', 'default'],
  };
  return {
    name: 'kvq local',
    values: ENVIRONMENT_VARIABLES.map((key) => ({
      key,
      value: values[key][0],
      type: values[key][1],
      enabled: true,
    })),
    _postman_variable_scope: 'environment',
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const collection = buildCollection();
  const dir = new URL('./', import.meta.url);
  writeFileSync(
    new URL('kvq.postman_collection.json', dir),
    `${JSON.stringify(collection, null, 2)}\n`,
  );
  writeFileSync(
    new URL('local.postman_environment.json', dir),
    `${JSON.stringify(buildEnvironment(), null, 2)}\n`,
  );
  const requests = collection.item.reduce((n, f) => n + f.item.length, 0);
  console.log(`wrote ${String(requests)} requests`);
}
