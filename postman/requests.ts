/**
 * The requests of the Postman collection: what each sends, what it makes beforehand (`setup`,
 * run in its pre-request script), what it asserts (`tests`) and what it checks and removes
 * afterwards (`after`). Scripts read only variables their own pre-request script set
 * (`pm.variables`, local to the request) and the environment (baseUrl, token, keyPrefix,
 * deadLetterPrefix), so every request runs alone as well as in collection order.
 */
import { deadLetterFolder } from './dead-letter-requests.ts';
import {
  expectProblem,
  type Folder,
  freshKey,
  json,
  keyStillAbsent,
  problem,
  problemNote,
} from './shared.ts';
import { writeFolder } from './write-requests.ts';

const health: Folder = {
  name: 'Health and docs',
  description:
    'Probes and the API description. None of these needs a token, and none changes anything.',
  items: [
    {
      name: 'Liveness',
      description:
        '`GET /healthz`: the process is up (it does not ask Redis). What a liveness probe calls.\n\n' +
        'Expected: **200** `{"status":"ok"}`.',
      method: 'GET',
      path: '/healthz',
      tests: [
        `pm.test('200 ok', () => { pm.response.to.have.status(200); pm.expect(pm.response.json().status).to.eql('ok'); });`,
      ],
      example: { status: 200, body: { status: 'ok' } },
    },
    {
      name: 'Readiness',
      description:
        '`GET /readyz`: both Redis answer and the process is not shutting down. What a readiness ' +
        'probe and a load balancer call.\n\n' +
        'Expected: **200** with `checks.queueRedis` and `checks.dataRedis` both `up` (503 when either is down).',
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
      description:
        '`GET /docs`: Swagger UI for the OpenAPI document (off when the server runs with ' +
        '`DOCS_ENABLED=false`). Open it in a browser.\n\nExpected: **200** HTML that loads `/openapi.json`.',
      method: 'GET',
      path: '/docs',
      tests: [
        `pm.test('an HTML page that loads the OpenAPI document', () => { pm.response.to.have.status(200); pm.expect(pm.response.text()).to.include('/openapi.json'); });`,
      ],
      example: { status: 200, headers: { 'Content-Type': 'text/html; charset=UTF-8' } },
    },
    {
      name: 'OpenAPI document',
      description:
        '`GET /openapi.json`: the OpenAPI 3.1 description of every route, generated from the same ' +
        'schemas that validate requests.\n\nExpected: **200** JSON with `openapi: "3.1.0"` and the key routes.',
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
};

export function folders(): Folder[] {
  return [health, writeFolder(), errorFolder(), deadLetterFolder()];
}

function errorFolder(): Folder {
  return {
    name: 'Errors',
    description:
      'Every bad request gets a 4xx `application/problem+json` answer from one error catalogue ' +
      '(`code` names the problem) and changes nothing: the writes here are checked to leave their ' +
      'key absent.',
    items: [
      {
        name: 'Malformed JSON (400)',
        description:
          'A body that is not valid JSON, with `Content-Type: application/json`.\n\n' +
          problemNote(400, 'MALFORMED_JSON'),
        method: 'PUT',
        path: '/v1/keys/{{key}}',
        headers: json,
        rawBody: '{"value":',
        setup: freshKey('malformed'),
        tests: expectProblem(400, 'MALFORMED_JSON'),
        after: keyStillAbsent,
        example: problem(400, 'MALFORMED_JSON'),
      },
      {
        name: 'Schema violation (400)',
        description:
          'Valid JSON that breaks the body schema (`ttlSeconds` must be a positive integer). ' +
          '`errors[]` lists each field with its problem.\n\n' +
          problemNote(400, 'VALIDATION_FAILED'),
        method: 'PUT',
        path: '/v1/keys/{{key}}',
        headers: json,
        body: { value: 1, ttlSeconds: 0 },
        setup: freshKey('invalid'),
        tests: [
          ...expectProblem(400, 'VALIDATION_FAILED'),
          `pm.test('lists the field', () => pm.expect(pm.response.json().errors[0].path).to.eql('ttlSeconds'));`,
        ],
        after: keyStillAbsent,
        example: problem(400, 'VALIDATION_FAILED'),
      },
      {
        name: 'Not JSON (415)',
        description:
          'A write whose `Content-Type` is not `application/json`: values are JSON only.\n\n' +
          problemNote(415, 'UNSUPPORTED_MEDIA_TYPE'),
        method: 'PUT',
        path: '/v1/keys/{{key}}',
        headers: { 'Content-Type': 'text/plain' },
        rawBody: 'hello',
        setup: freshKey('text'),
        tests: expectProblem(415, 'UNSUPPORTED_MEDIA_TYPE'),
        after: keyStillAbsent,
        example: problem(415, 'UNSUPPORTED_MEDIA_TYPE'),
      },
      {
        name: 'Wrong method (405 + Allow)',
        description:
          '`PATCH` on a key: not a method of `/v1/keys/{key}`. The `Allow` header lists the ones ' +
          'that are.\n\n' +
          problemNote(405, 'METHOD_NOT_ALLOWED'),
        method: 'PATCH',
        path: '/v1/keys/{{key}}',
        setup: freshKey('patch'),
        tests: [
          ...expectProblem(405, 'METHOD_NOT_ALLOWED'),
          `pm.test('Allow', () => pm.expect(pm.response.headers.get('Allow')).to.eql('GET, HEAD, PUT, DELETE'));`,
        ],
        after: keyStillAbsent,
        example: problem(405, 'METHOD_NOT_ALLOWED', { Allow: 'GET, HEAD, PUT, DELETE' }),
      },
      {
        name: 'Missing token (401 when the server has tokens)',
        description:
          'The same read without `Authorization`: with `AUTH=keys` on the server, every ' +
          '`/v1` route needs `Authorization: Bearer <API key>` (the collection sends the `token` ' +
          'variable; this request sends none).\n\nExpected: **401** `UNAUTHORIZED` with ' +
          '`WWW-Authenticate: Bearer …` when the server has keys (the `token` variable is set); ' +
          'with `AUTH=off` (empty `token`) an ordinary read of an absent key, **404** ' +
          '`KEY_NOT_FOUND`.',
        method: 'GET',
        path: '/v1/keys/{{key}}',
        auth: false,
        setup: freshKey('no-token'),
        tests: [
          `const guarded = Boolean(pm.variables.get('token'));`,
          `pm.test(guarded ? '401 UNAUTHORIZED without a token' : '404: the server has no tokens', () => {`,
          `  pm.response.to.have.status(guarded ? 401 : 404);`,
          `  pm.expect(pm.response.json().code).to.eql(guarded ? 'UNAUTHORIZED' : 'KEY_NOT_FOUND');`,
          `});`,
        ],
        example: problem(401, 'UNAUTHORIZED', { 'WWW-Authenticate': 'Bearer' }),
      },
      {
        name: 'Unknown op (404)',
        description:
          '`GET /v1/ops/{id}` for an id no write was given (or whose receipt has expired: receipts ' +
          'are kept `OP_RETENTION_SECONDS`).\n\n' +
          problemNote(404, 'OP_NOT_FOUND'),
        method: 'GET',
        path: '/v1/ops/no-such-op',
        tests: expectProblem(404, 'OP_NOT_FOUND'),
        example: problem(404, 'OP_NOT_FOUND'),
      },
      {
        name: 'Unknown route (404)',
        description: 'A path the API does not have.\n\n' + problemNote(404, 'ROUTE_NOT_FOUND'),
        method: 'GET',
        path: '/v2/nothing',
        tests: expectProblem(404, 'ROUTE_NOT_FOUND'),
        example: problem(404, 'ROUTE_NOT_FOUND'),
      },
      {
        name: 'Unknown dead letter (404)',
        description:
          '`GET /v1/dlq/{opId}` for an op that is not in the dead-letter queue (never dead, ' +
          'already replayed, or discarded). Replaying (`POST …/retry`) or discarding (`DELETE`) ' +
          'such an id answers the same.\n\n' +
          problemNote(404, 'DEAD_LETTER_NOT_FOUND'),
        method: 'GET',
        path: '/v1/dlq/no-such-op',
        tests: expectProblem(404, 'DEAD_LETTER_NOT_FOUND'),
        example: problem(404, 'DEAD_LETTER_NOT_FOUND'),
      },
    ],
  };
}
