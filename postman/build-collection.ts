/**
 * Writes postman/kvq.postman_collection.json (v2.1) and postman/local.postman_environment.json.
 * The collection is generated so that every request, test script and saved example stays
 * consistent; `npm run postman:build` regenerates it, `npm run test:postman` runs it with newman.
 */
import { writeFileSync } from 'node:fs';

interface Req {
  name: string;
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: unknown;
  rawBody?: string;
  tests: string[];
  prerequest?: string[];
  example: { status: number; body?: unknown; headers?: Record<string, string> };
}

const json = { 'Content-Type': 'application/json' };
const problem = (status: number, code: string) => ({
  status,
  body: {
    type: `https://kvq.dev/problems/${code.toLowerCase().replaceAll('_', '-')}`,
    title: '…',
    status,
    detail: '…',
    code,
    requestId: '…',
  },
  headers: { 'Content-Type': 'application/problem+json' },
});
const expectProblem = (status: number, code: string) => [
  `pm.test('${String(status)} ${code} as problem+json', () => {`,
  `  pm.response.to.have.status(${String(status)});`,
  `  pm.expect(pm.response.headers.get('Content-Type')).to.eql('application/problem+json');`,
  `  const b = pm.response.json();`,
  `  pm.expect(b.code).to.eql('${code}');`,
  `  pm.expect(b.status).to.eql(${String(status)});`,
  `  pm.expect(b.requestId).to.be.a('string');`,
  `});`,
];
const receipt = {
  op: {
    id: '0190f3c2-…',
    key: 'pm/…',
    type: 'put',
    version: 1,
    status: 'queued',
    attempts: 0,
    acceptedAt: '2026-11-21T20:00:00.000Z',
  },
};
const record = {
  key: 'pm/…',
  value: { hello: 'postman' },
  version: 1,
  createdAt: '2026-11-21T20:00:00.010Z',
  updatedAt: '2026-11-21T20:00:00.010Z',
  expiresAt: null,
};

const folders: { name: string; description: string; items: Req[] }[] = [
  {
    name: 'Health and docs',
    description: 'Probes and the OpenAPI document.',
    items: [
      {
        name: 'Liveness',
        method: 'GET',
        path: '/healthz',
        tests: [
          `pm.test('200 ok', () => { pm.response.to.have.status(200); pm.expect(pm.response.json().status).to.eql('ok'); });`,
        ],
        example: { status: 200, body: { status: 'ok' } },
      },
      {
        name: 'Readiness',
        method: 'GET',
        path: '/readyz',
        tests: [
          `pm.test('200 and both Redis up', () => {`,
          `  pm.response.to.have.status(200);`,
          `  pm.expect(pm.response.json().checks).to.include({ queueRedis: 'up', dataRedis: 'up' });`,
          `});`,
        ],
        example: {
          status: 200,
          body: {
            status: 'ready',
            checks: { queueRedis: 'up', dataRedis: 'up', lifecycle: 'running' },
          },
        },
      },
      {
        name: 'API docs (Swagger UI)',
        method: 'GET',
        path: '/docs',
        tests: [
          `pm.test('an HTML page that loads the OpenAPI document', () => { pm.response.to.have.status(200); pm.expect(pm.response.text()).to.include('/openapi.json'); });`,
        ],
        example: { status: 200, headers: { 'Content-Type': 'text/html; charset=UTF-8' } },
      },
      {
        name: 'OpenAPI document',
        method: 'GET',
        path: '/openapi.json',
        tests: [
          `pm.test('OpenAPI 3.1 with the key routes', () => { pm.response.to.have.status(200); const d = pm.response.json(); pm.expect(d.openapi).to.eql('3.1.0'); pm.expect(d.paths).to.have.property('/v1/keys/{key}'); });`,
        ],
        example: {
          status: 200,
          body: { openapi: '3.1.0', info: { title: 'kvq', version: '1' }, paths: {} },
        },
      },
    ],
  },
  {
    name: 'Write, poll the receipt, read',
    description: 'The main flow. Op ids and ETags are chained through collection variables.',
    items: [
      {
        name: 'Queue a put (202)',
        method: 'PUT',
        path: '/v1/keys/{{key}}',
        prerequest: [
          `pm.collectionVariables.set('key', 'pm/' + Date.now() + '/' + Math.floor(Math.random() * 1e6));`,
          `pm.collectionVariables.set('key2', pm.collectionVariables.get('key') + '-created');`,
          `pm.collectionVariables.set('idem', 'pm-' + Date.now());`,
        ],
        headers: json,
        body: { value: { hello: 'postman' } },
        tests: [
          `pm.test('202 with Location and a queued receipt', () => {`,
          `  pm.response.to.have.status(202);`,
          `  const op = pm.response.json().op;`,
          `  pm.expect(pm.response.headers.get('Location')).to.eql('/v1/ops/' + op.id);`,
          `  pm.expect(op).to.include({ key: pm.collectionVariables.get('key'), type: 'put', version: 1, status: 'queued' });`,
          `  pm.collectionVariables.set('opId', op.id);`,
          `});`,
        ],
        example: {
          status: 202,
          body: receipt,
          headers: { ...json, Location: '/v1/ops/0190f3c2-…' },
        },
      },
      {
        name: 'Poll the receipt until applied',
        method: 'GET',
        path: '/v1/ops/{{opId}}',
        headers: { Prefer: 'wait=10' },
        tests: [
          `pm.test('applied', () => {`,
          `  pm.response.to.have.status(200);`,
          `  pm.expect(pm.response.headers.get('Preference-Applied')).to.eql('wait=10');`,
          `  const op = pm.response.json().op;`,
          `  pm.expect(op.id).to.eql(pm.collectionVariables.get('opId'));`,
          `  pm.expect(op.status).to.eql('applied');`,
          `  pm.expect(op.appliedAt).to.be.a('string');`,
          `});`,
        ],
        example: {
          status: 200,
          body: {
            op: {
              ...receipt.op,
              status: 'applied',
              attempts: 1,
              appliedAt: '2026-11-21T20:00:00.010Z',
            },
          },
        },
      },
      {
        name: 'Read the key',
        method: 'GET',
        path: '/v1/keys/{{key}}',
        tests: [
          `pm.test('200 with ETag "1" and the value', () => {`,
          `  pm.response.to.have.status(200);`,
          `  pm.expect(pm.response.headers.get('ETag')).to.eql('"1"');`,
          `  pm.expect(pm.response.json()).to.deep.include({ key: pm.collectionVariables.get('key'), value: { hello: 'postman' }, version: 1 });`,
          `  pm.collectionVariables.set('etag', pm.response.headers.get('ETag'));`,
          `});`,
        ],
        example: { status: 200, body: record, headers: { ...json, ETag: '"1"' } },
      },
      {
        name: 'Conditional read (304)',
        method: 'GET',
        path: '/v1/keys/{{key}}',
        headers: { 'If-None-Match': '{{etag}}' },
        tests: [
          `pm.test('304 Not Modified', () => { pm.response.to.have.status(304); pm.expect(pm.response.headers.get('ETag')).to.eql(pm.collectionVariables.get('etag')); });`,
        ],
        example: { status: 304, headers: { ETag: '"1"' } },
      },
      {
        name: 'Check the key exists (HEAD)',
        method: 'HEAD',
        path: '/v1/keys/{{key}}',
        tests: [
          `pm.test('200 with the ETag, no body', () => { pm.response.to.have.status(200); pm.expect(pm.response.headers.get('ETag')).to.eql(pm.collectionVariables.get('etag')); pm.expect(pm.response.text()).to.eql(''); });`,
        ],
        example: { status: 200, headers: { ...json, ETag: '"1"' } },
      },
      {
        name: 'Read-your-writes (?after=)',
        method: 'GET',
        path: '/v1/keys/{{key}}?after={{opId}}',
        tests: [
          `pm.test('200 after the op', () => { pm.response.to.have.status(200); pm.expect(pm.response.json().version).to.be.at.least(1); });`,
        ],
        example: { status: 200, body: record, headers: { ...json, ETag: '"1"' } },
      },
      {
        name: 'Update at version 1 (If-Match, Prefer: wait)',
        method: 'PUT',
        path: '/v1/keys/{{key}}',
        headers: { ...json, 'If-Match': '"1"', Prefer: 'wait=10' },
        body: { value: { hello: 'again' }, ttlSeconds: 3600 },
        tests: [
          `pm.test('200 updated, version 2, expires', () => {`,
          `  pm.response.to.have.status(200);`,
          `  pm.expect(pm.response.headers.get('ETag')).to.eql('"2"');`,
          `  const r = pm.response.json();`,
          `  pm.expect(r.version).to.eql(2);`,
          `  pm.expect(r.expiresAt).to.be.a('string');`,
          `});`,
        ],
        example: {
          status: 200,
          body: {
            ...record,
            value: { hello: 'again' },
            version: 2,
            expiresAt: '2026-11-21T21:00:00.020Z',
          },
          headers: { ...json, ETag: '"2"', 'Preference-Applied': 'wait=10' },
        },
      },
      {
        name: 'Stale If-Match (412)',
        method: 'PUT',
        path: '/v1/keys/{{key}}',
        headers: { ...json, 'If-Match': '"1"' },
        body: { value: 'stale' },
        tests: expectProblem(412, 'PRECONDITION_FAILED'),
        example: problem(412, 'PRECONDITION_FAILED'),
      },
      {
        name: 'Create only (POST, 201)',
        method: 'POST',
        path: '/v1/keys',
        headers: { ...json, Prefer: 'wait=10' },
        body: { key: '{{key2}}', value: [1, 2, 3] },
        tests: [
          `pm.test('201 created', () => {`,
          `  pm.response.to.have.status(201);`,
          `  pm.expect(pm.response.headers.get('Location')).to.eql('/v1/keys/' + encodeURIComponent(pm.collectionVariables.get('key2')));`,
          `  pm.expect(pm.response.json().value).to.eql([1, 2, 3]);`,
          `});`,
        ],
        example: {
          status: 201,
          body: { ...record, value: [1, 2, 3] },
          headers: { ...json, Location: '/v1/keys/pm%2F…', ETag: '"1"' },
        },
      },
      {
        name: 'Create an existing key (409)',
        method: 'POST',
        path: '/v1/keys',
        headers: json,
        body: { key: '{{key2}}', value: 0 },
        tests: expectProblem(409, 'KEY_EXISTS'),
        example: problem(409, 'KEY_EXISTS'),
      },
      {
        name: 'Idempotent put (first)',
        method: 'PUT',
        path: '/v1/keys/{{key2}}',
        headers: { ...json, 'Idempotency-Key': '{{idem}}' },
        body: { value: 'once' },
        tests: [
          `pm.test('202', () => { pm.response.to.have.status(202); pm.collectionVariables.set('idemOp', pm.response.json().op.id); });`,
        ],
        example: { status: 202, body: receipt, headers: { ...json, Location: '/v1/ops/…' } },
      },
      {
        name: 'Idempotent put (repeat returns the same op)',
        method: 'PUT',
        path: '/v1/keys/{{key2}}',
        headers: { ...json, 'Idempotency-Key': '{{idem}}' },
        body: { value: 'once' },
        tests: [
          `pm.test('same op id', () => { pm.response.to.have.status(202); pm.expect(pm.response.json().op.id).to.eql(pm.collectionVariables.get('idemOp')); });`,
        ],
        example: { status: 202, body: receipt, headers: { ...json, Location: '/v1/ops/…' } },
      },
      {
        name: 'Idempotency-Key reused with another body (422)',
        method: 'PUT',
        path: '/v1/keys/{{key2}}',
        headers: { ...json, 'Idempotency-Key': '{{idem}}' },
        body: { value: 'different' },
        tests: expectProblem(422, 'IDEMPOTENCY_KEY_REUSED'),
        example: problem(422, 'IDEMPOTENCY_KEY_REUSED'),
      },
      {
        name: 'List keys under the prefix',
        method: 'GET',
        path: '/v1/keys?prefix={{key}}&limit=10',
        tests: [
          `pm.test('lists the keys', () => {`,
          `  pm.response.to.have.status(200);`,
          `  const keys = pm.response.json().items.map((i) => i.key);`,
          `  pm.expect(keys).to.include(pm.collectionVariables.get('key'));`,
          `  pm.expect(keys).to.include(pm.collectionVariables.get('key2'));`,
          `  pm.expect(pm.response.json()).to.have.property('nextCursor');`,
          `});`,
        ],
        example: {
          status: 200,
          body: {
            items: [{ key: 'pm/…', version: 2, updatedAt: '…', expiresAt: null }],
            nextCursor: null,
          },
        },
      },
      {
        name: 'Delete (Prefer: wait, 204)',
        method: 'DELETE',
        path: '/v1/keys/{{key}}',
        headers: { Prefer: 'wait=10' },
        tests: [
          `pm.test('204', () => { pm.response.to.have.status(204); pm.expect(pm.response.headers.get('Preference-Applied')).to.eql('wait=10'); });`,
        ],
        example: { status: 204, headers: { 'Preference-Applied': 'wait=10' } },
      },
      {
        name: 'Read the deleted key (404)',
        method: 'GET',
        path: '/v1/keys/{{key}}',
        tests: expectProblem(404, 'KEY_NOT_FOUND'),
        example: problem(404, 'KEY_NOT_FOUND'),
      },
      {
        name: 'Delete an absent key (404)',
        method: 'DELETE',
        path: '/v1/keys/{{key}}',
        tests: expectProblem(404, 'KEY_NOT_FOUND'),
        example: problem(404, 'KEY_NOT_FOUND'),
      },
    ],
  },
  {
    name: 'Errors',
    description: 'Every bad input gets a problem+json 4xx and changes nothing.',
    items: [
      {
        name: 'Malformed JSON (400)',
        method: 'PUT',
        path: '/v1/keys/{{key2}}',
        headers: json,
        rawBody: '{"value":',
        tests: expectProblem(400, 'MALFORMED_JSON'),
        example: problem(400, 'MALFORMED_JSON'),
      },
      {
        name: 'Schema violation (400)',
        method: 'PUT',
        path: '/v1/keys/{{key2}}',
        headers: json,
        body: { value: 1, ttlSeconds: 0 },
        tests: [
          ...expectProblem(400, 'VALIDATION_FAILED'),
          `pm.test('lists the field', () => pm.expect(pm.response.json().errors[0].path).to.eql('ttlSeconds'));`,
        ],
        example: problem(400, 'VALIDATION_FAILED'),
      },
      {
        name: 'Not JSON (415)',
        method: 'PUT',
        path: '/v1/keys/{{key2}}',
        headers: { 'Content-Type': 'text/plain' },
        rawBody: 'hello',
        tests: expectProblem(415, 'UNSUPPORTED_MEDIA_TYPE'),
        example: problem(415, 'UNSUPPORTED_MEDIA_TYPE'),
      },
      {
        name: 'Wrong method (405 + Allow)',
        method: 'PATCH',
        path: '/v1/keys/{{key2}}',
        tests: [
          ...expectProblem(405, 'METHOD_NOT_ALLOWED'),
          `pm.test('Allow', () => pm.expect(pm.response.headers.get('Allow')).to.eql('GET, HEAD, PUT, DELETE'));`,
        ],
        example: {
          ...problem(405, 'METHOD_NOT_ALLOWED'),
          headers: { 'Content-Type': 'application/problem+json', Allow: 'GET, HEAD, PUT, DELETE' },
        },
      },
      {
        name: 'Unknown op (404)',
        method: 'GET',
        path: '/v1/ops/no-such-op',
        tests: expectProblem(404, 'OP_NOT_FOUND'),
        example: problem(404, 'OP_NOT_FOUND'),
      },
      {
        name: 'Unknown route (404)',
        method: 'GET',
        path: '/v2/nothing',
        tests: expectProblem(404, 'ROUTE_NOT_FOUND'),
        example: problem(404, 'ROUTE_NOT_FOUND'),
      },
    ],
  },
  {
    name: 'Dead-letter queue',
    description: 'Ops that ran out of attempts. A healthy stack has none for these keys.',
    items: [
      {
        name: 'List dead letters',
        method: 'GET',
        path: '/v1/dlq?limit=20',
        tests: [
          `pm.test('200 with items', () => { pm.response.to.have.status(200); pm.expect(pm.response.json().items).to.be.an('array'); pm.expect(pm.response.json()).to.have.property('nextCursor'); });`,
        ],
        example: {
          status: 200,
          body: {
            items: [
              {
                id: '…',
                key: 'users/42',
                type: 'put',
                version: 3,
                attempts: 8,
                acceptedAt: '2026-11-21T20:00:00.000Z',
                failedAt: '2026-11-21T20:00:09.000Z',
                error: { code: 'DATA_UNAVAILABLE', message: '…' },
              },
            ],
            nextCursor: null,
          },
        },
      },
      {
        name: 'One dead letter (404 when absent)',
        method: 'GET',
        path: '/v1/dlq/no-such-op',
        tests: expectProblem(404, 'DEAD_LETTER_NOT_FOUND'),
        example: problem(404, 'DEAD_LETTER_NOT_FOUND'),
      },
      {
        name: 'Replay one (404 when absent)',
        method: 'POST',
        path: '/v1/dlq/no-such-op/retry',
        tests: expectProblem(404, 'DEAD_LETTER_NOT_FOUND'),
        example: problem(404, 'DEAD_LETTER_NOT_FOUND'),
      },
      {
        name: 'Replay all under a prefix',
        method: 'POST',
        path: '/v1/dlq/retry?prefix={{key}}',
        tests: [
          `pm.test('reports counts', () => { pm.response.to.have.status(200); pm.expect(pm.response.json()).to.eql({ retried: 0, skipped: 0 }); });`,
        ],
        example: { status: 200, body: { retried: 0, skipped: 0 } },
      },
      {
        name: 'Discard one (404 when absent)',
        method: 'DELETE',
        path: '/v1/dlq/no-such-op',
        tests: expectProblem(404, 'DEAD_LETTER_NOT_FOUND'),
        example: problem(404, 'DEAD_LETTER_NOT_FOUND'),
      },
    ],
  },
];

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

function request(r: Req) {
  const req: Record<string, unknown> = {
    method: r.method,
    header: Object.entries(r.headers ?? {}).map(([key, value]) => ({ key, value })),
    url: url(r.path),
  };
  const raw = r.rawBody ?? (r.body === undefined ? undefined : JSON.stringify(r.body, null, 2));
  if (raw !== undefined) req.body = { mode: 'raw', raw, options: { raw: { language: 'json' } } };
  return req;
}

const collection = {
  info: {
    name: 'kvq',
    description:
      'kvq API: queued writes with per-key version fencing. Set baseUrl (and token when the server runs with API_TOKENS) in the environment. Run in order: requests chain op ids and ETags through collection variables.',
    schema: 'https://schema.getpostman.com/json/collection/v2.1.0/collection.json',
  },
  auth: { type: 'bearer', bearer: [{ key: 'token', value: '{{token}}', type: 'string' }] },
  variable: ['key', 'key2', 'opId', 'etag', 'idem', 'idemOp'].map((key) => ({ key, value: '' })),
  item: folders.map((f) => ({
    name: f.name,
    description: f.description,
    item: f.items.map((r) => ({
      name: r.name,
      event: [
        ...(r.prerequest
          ? [{ listen: 'prerequest', script: { type: 'text/javascript', exec: r.prerequest } }]
          : []),
        { listen: 'test', script: { type: 'text/javascript', exec: r.tests } },
      ],
      request: request(r),
      response: [
        {
          name: `${r.name}: example`,
          originalRequest: request(r),
          code: r.example.status,
          header: Object.entries(
            r.example.headers ?? (r.example.body === undefined ? {} : json),
          ).map(([key, value]) => ({ key, value })),
          body: r.example.body === undefined ? '' : JSON.stringify(r.example.body, null, 2),
          _postman_previewlanguage: 'json',
        },
      ],
    })),
  })),
};

const environment = {
  name: 'kvq local',
  values: [
    { key: 'baseUrl', value: 'http://127.0.0.1:8080', type: 'default', enabled: true },
    { key: 'token', value: '', type: 'secret', enabled: true },
  ],
  _postman_variable_scope: 'environment',
};

const dir = new URL('./', import.meta.url);
writeFileSync(
  new URL('kvq.postman_collection.json', dir),
  `${JSON.stringify(collection, null, 2)}\n`,
);
writeFileSync(
  new URL('local.postman_environment.json', dir),
  `${JSON.stringify(environment, null, 2)}\n`,
);
console.log(`wrote ${String(folders.reduce((n, f) => n + f.items.length, 0))} requests`);
