/** The "Write, poll the receipt, read" folder: kvq's main flow, one self-contained request each. */
import {
  expectProblem,
  type Folder,
  freshKey,
  json,
  keyAtV1,
  problem,
  problemNote,
  receipt,
  record,
  removeTheKey,
} from './shared.ts';

const keyVar = `pm.variables.get('key')`;

export function writeFolder(): Folder {
  return {
    name: 'Write, poll the receipt, read',
    description:
      'The main flow. A write is accepted at once (**202** + a receipt at `Location`) and applied ' +
      'by a worker shortly after; `Prefer: wait=N` makes the API answer once it is applied (up to ' +
      'N seconds). Reads come straight from the data Redis, with the version as `ETag`.\n\n' +
      'Each request makes its own key under the `keyPrefix` variable in its pre-request script ' +
      '(written with `Prefer: wait`, so it is applied before the request runs) and deletes it in ' +
      'its test script: any request can be sent alone, in any order.',
    items: [
      {
        name: 'Queue a put (202)',
        description:
          '`PUT /v1/keys/{key}` without `Prefer`: the write is accepted and queued, not yet ' +
          'applied.\n\nExpected: **202** with `Location: /v1/ops/{id}` and the receipt ' +
          '`{op: {id, key, type: "put", version: 1, status: "queued", …}}`. Poll `Location` to see ' +
          'it applied. The test script waits for it and deletes the key.',
        method: 'PUT',
        path: '/v1/keys/{{key}}',
        headers: json,
        body: { value: { hello: 'postman' } },
        setup: freshKey('put'),
        tests: [
          `pm.test('202 with Location and a queued receipt', () => {`,
          `  pm.response.to.have.status(202);`,
          `  const op = pm.response.json().op;`,
          `  pm.expect(pm.response.headers.get('Location')).to.eql('/v1/ops/' + op.id);`,
          `  pm.expect(op).to.include({ key: ${keyVar}, type: 'put', version: 1, status: 'queued' });`,
          `});`,
        ],
        after: [
          `const op = await settled(pm.response.json().op.id);`,
          `pm.test('then applied', () => pm.expect(op.status).to.eql('applied'));`,
          ...removeTheKey,
        ],
        example: {
          status: 202,
          body: receipt,
          headers: { ...json, Location: '/v1/ops/0190f3c2-…' },
        },
      },
      {
        name: 'Poll the receipt until applied',
        description:
          '`GET /v1/ops/{id}` with `Prefer: wait=10`: long-polls until the op is terminal ' +
          '(`applied`, `superseded`, `failed` or `dead`) or 10 s pass (at most 30). The ' +
          'pre-request script queues a put and keeps its op id.\n\nExpected: **200** with ' +
          '`Preference-Applied: wait=10` and `op.status: "applied"`, `appliedAt`, `attempts`.',
        method: 'GET',
        path: '/v1/ops/{{opId}}',
        headers: { Prefer: 'wait=10' },
        setup: [
          ...freshKey('poll'),
          `pm.variables.set('opId', (await putQueued(${keyVar}, { hello: 'postman' })).id);`,
        ],
        tests: [
          `pm.test('applied', () => {`,
          `  pm.response.to.have.status(200);`,
          `  pm.expect(pm.response.headers.get('Preference-Applied')).to.eql('wait=10');`,
          `  const op = pm.response.json().op;`,
          `  pm.expect(op.id).to.eql(pm.variables.get('opId'));`,
          `  pm.expect(op.status).to.eql('applied');`,
          `  pm.expect(op.appliedAt).to.be.a('string');`,
          `});`,
        ],
        after: removeTheKey,
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
        description:
          '`GET /v1/keys/{key}` of a key the pre-request script wrote (version 1).\n\n' +
          'Expected: **200** with `ETag: "1"` (the version) and the record `{key, value, version, ' +
          'createdAt, updatedAt, expiresAt}`.',
        method: 'GET',
        path: '/v1/keys/{{key}}',
        setup: keyAtV1('read', `{ hello: 'postman' }`),
        tests: [
          `pm.test('200 with ETag "1" and the value', () => {`,
          `  pm.response.to.have.status(200);`,
          `  pm.expect(pm.response.headers.get('ETag')).to.eql('"1"');`,
          `  pm.expect(pm.response.json()).to.deep.include({ key: ${keyVar}, value: { hello: 'postman' }, version: 1 });`,
          `});`,
        ],
        after: removeTheKey,
        example: { status: 200, body: record, headers: { ...json, ETag: '"1"' } },
      },
      {
        name: 'Conditional read (304)',
        description:
          '`GET` with `If-None-Match: "1"` while the key is at version 1: the client\'s copy is ' +
          'current.\n\nExpected: **304 Not Modified**, no body, `ETag: "1"`.',
        method: 'GET',
        path: '/v1/keys/{{key}}',
        headers: { 'If-None-Match': '{{etag}}' },
        setup: keyAtV1('cached', `{ hello: 'postman' }`),
        tests: [
          `pm.test('304 Not Modified', () => { pm.response.to.have.status(304); pm.expect(pm.response.headers.get('ETag')).to.eql('"1"'); });`,
        ],
        after: removeTheKey,
        example: { status: 304, headers: { ETag: '"1"' } },
      },
      {
        name: 'Check the key exists (HEAD)',
        description:
          '`HEAD /v1/keys/{key}`: the headers of a read without the body.\n\nExpected: **200** ' +
          'with `ETag: "1"` and an empty body (404 for an absent key).',
        method: 'HEAD',
        path: '/v1/keys/{{key}}',
        setup: keyAtV1('head', `{ hello: 'postman' }`),
        tests: [
          `pm.test('200 with the ETag, no body', () => { pm.response.to.have.status(200); pm.expect(pm.response.headers.get('ETag')).to.eql('"1"'); pm.expect(pm.response.text()).to.eql(''); });`,
        ],
        after: removeTheKey,
        example: { status: 200, headers: { ...json, ETag: '"1"' } },
      },
      {
        name: 'Read-your-writes (?after=)',
        description:
          '`GET /v1/keys/{key}?after={opId}`: the read waits until that op is terminal, so it ' +
          'sees the write (up to `Prefer: wait` or `READ_AFTER_WAIT_MS`; 503 `OP_PENDING` if not). ' +
          'The pre-request script queues a put without waiting.\n\nExpected: **200** with the ' +
          'value the op wrote.',
        method: 'GET',
        path: '/v1/keys/{{key}}?after={{opId}}',
        setup: [
          ...freshKey('ryw'),
          `pm.variables.set('opId', (await putQueued(${keyVar}, { hello: 'postman' })).id);`,
        ],
        tests: [
          `pm.test('200 with the write', () => { pm.response.to.have.status(200); pm.expect(pm.response.json()).to.deep.include({ value: { hello: 'postman' }, version: 1 }); });`,
        ],
        after: removeTheKey,
        example: { status: 200, body: record, headers: { ...json, ETag: '"1"' } },
      },
      {
        name: 'Update at version 1 (If-Match, Prefer: wait)',
        description:
          '`PUT` with `If-Match: "1"` (only if the key is still at version 1: optimistic ' +
          'concurrency) and `Prefer: wait=10` (answer once applied). `ttlSeconds` makes the key ' +
          'expire.\n\nExpected: **200** (updated; 201 would mean created) with `ETag: "2"`, ' +
          '`version: 2` and `expiresAt` set.',
        method: 'PUT',
        path: '/v1/keys/{{key}}',
        headers: { ...json, 'If-Match': '"1"', Prefer: 'wait=10' },
        body: { value: { hello: 'again' }, ttlSeconds: 3600 },
        setup: keyAtV1('update', `{ hello: 'postman' }`),
        tests: [
          `pm.test('200 updated, version 2, expires', () => {`,
          `  pm.response.to.have.status(200);`,
          `  pm.expect(pm.response.headers.get('ETag')).to.eql('"2"');`,
          `  const r = pm.response.json();`,
          `  pm.expect(r.version).to.eql(2);`,
          `  pm.expect(r.expiresAt).to.be.a('string');`,
          `});`,
        ],
        after: removeTheKey,
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
        description:
          '`PUT` with `If-Match: "1"` while the key is at version 2 (the pre-request script wrote ' +
          'it twice): someone else wrote in between. Decided when the write is accepted; nothing ' +
          'is queued.\n\n' +
          problemNote(412, 'PRECONDITION_FAILED') +
          ' `currentVersion` says where the key is.',
        method: 'PUT',
        path: '/v1/keys/{{key}}',
        headers: { ...json, 'If-Match': '"1"' },
        body: { value: 'stale' },
        setup: [...keyAtV1('stale', `'v1'`), `await putApplied(${keyVar}, 'v2');`],
        tests: expectProblem(412, 'PRECONDITION_FAILED'),
        after: [
          `const r = (await send('GET', '/v1/keys/' + ${keyVar})).json();`,
          `pm.test('changed nothing: still version 2', () => pm.expect(r).to.deep.include({ value: 'v2', version: 2 }));`,
          ...removeTheKey,
        ],
        example: problem(412, 'PRECONDITION_FAILED'),
      },
      {
        name: 'Create only (POST, 201)',
        description:
          '`POST /v1/keys` with `{key, value}`: creates the key only if it does not exist. With ' +
          '`Prefer: wait=10` the answer comes once applied.\n\nExpected: **201** with `Location: ' +
          '/v1/keys/{key}` (key URL-encoded), `ETag: "1"` and the record.',
        method: 'POST',
        path: '/v1/keys',
        headers: { ...json, Prefer: 'wait=10' },
        body: { key: '{{key}}', value: [1, 2, 3] },
        setup: freshKey('create'),
        tests: [
          `pm.test('201 created', () => {`,
          `  pm.response.to.have.status(201);`,
          `  pm.expect(pm.response.headers.get('Location')).to.eql('/v1/keys/' + encodeURIComponent(${keyVar}));`,
          `  pm.expect(pm.response.json().value).to.eql([1, 2, 3]);`,
          `});`,
        ],
        after: removeTheKey,
        example: {
          status: 201,
          body: { ...record, value: [1, 2, 3] },
          headers: { ...json, Location: '/v1/keys/postman%2F…', ETag: '"1"' },
        },
      },
      {
        name: 'Create an existing key (409)',
        description:
          '`POST /v1/keys` for a key that exists (the pre-request script wrote it).\n\n' +
          problemNote(409, 'KEY_EXISTS'),
        method: 'POST',
        path: '/v1/keys',
        headers: json,
        body: { key: '{{key}}', value: 0 },
        setup: keyAtV1('exists', `'first'`),
        tests: expectProblem(409, 'KEY_EXISTS'),
        after: [
          `const r = (await send('GET', '/v1/keys/' + ${keyVar})).json();`,
          `pm.test('changed nothing', () => pm.expect(r).to.deep.include({ value: 'first', version: 1 }));`,
          ...removeTheKey,
        ],
        example: problem(409, 'KEY_EXISTS'),
      },
      {
        name: 'Idempotent put (first)',
        description:
          '`PUT` with `Idempotency-Key` (any unique string, at most 255 characters): a client ' +
          'that is not sure its write arrived sends it again with the same key and gets the same ' +
          'op instead of a second write.\n\nExpected: **202** with the receipt.',
        method: 'PUT',
        path: '/v1/keys/{{key}}',
        headers: { ...json, 'Idempotency-Key': '{{idem}}' },
        body: { value: 'once' },
        setup: [
          ...freshKey('idem'),
          `pm.variables.set('idem', 'pm-' + pm.variables.replaceIn('{{$guid}}'));`,
        ],
        tests: [`pm.test('202', () => pm.response.to.have.status(202));`],
        after: [`await settled(pm.response.json().op.id);`, ...removeTheKey],
        example: { status: 202, body: receipt, headers: { ...json, Location: '/v1/ops/…' } },
      },
      {
        name: 'Idempotent put (repeat returns the same op)',
        description:
          'The same `PUT` with the same `Idempotency-Key` and body as an earlier one (the ' +
          "pre-request script sent the first).\n\nExpected: **202** with the first op's receipt " +
          '(same `op.id`); no second write.',
        method: 'PUT',
        path: '/v1/keys/{{key}}',
        headers: { ...json, 'Idempotency-Key': '{{idem}}' },
        body: { value: 'once' },
        setup: [
          ...freshKey('idem-repeat'),
          `pm.variables.set('idem', 'pm-' + pm.variables.replaceIn('{{$guid}}'));`,
          `const first = await putQueued(${keyVar}, 'once', { 'Idempotency-Key': pm.variables.get('idem') });`,
          `pm.variables.set('opId', first.id);`,
        ],
        tests: [
          `pm.test('same op id', () => { pm.response.to.have.status(202); pm.expect(pm.response.json().op.id).to.eql(pm.variables.get('opId')); });`,
        ],
        after: [
          `await settled(pm.variables.get('opId'));`,
          `const r = (await send('GET', '/v1/keys/' + ${keyVar})).json();`,
          `pm.test('written once: version 1', () => pm.expect(r.version).to.eql(1));`,
          ...removeTheKey,
        ],
        example: { status: 202, body: receipt, headers: { ...json, Location: '/v1/ops/…' } },
      },
      {
        name: 'Idempotency-Key reused with another body (422)',
        description:
          'An `Idempotency-Key` already used for a different write (the pre-request script used ' +
          'it with another value).\n\n' +
          problemNote(422, 'IDEMPOTENCY_KEY_REUSED'),
        method: 'PUT',
        path: '/v1/keys/{{key}}',
        headers: { ...json, 'Idempotency-Key': '{{idem}}' },
        body: { value: 'different' },
        setup: [
          ...freshKey('idem-reused'),
          `pm.variables.set('idem', 'pm-' + pm.variables.replaceIn('{{$guid}}'));`,
          `await putApplied(${keyVar}, 'once', { 'Idempotency-Key': pm.variables.get('idem') });`,
        ],
        tests: expectProblem(422, 'IDEMPOTENCY_KEY_REUSED'),
        after: removeTheKey,
        example: problem(422, 'IDEMPOTENCY_KEY_REUSED'),
      },
      {
        name: 'List keys under a prefix',
        description:
          '`GET /v1/keys?prefix=…&limit=…`: live keys in key order, one page at a time; pass ' +
          '`nextCursor` as `cursor` for the next page (`null` on the last). The pre-request ' +
          'script writes two keys under a fresh prefix.\n\nExpected: **200** `{items: [{key, ' +
          'version, updatedAt, expiresAt}], nextCursor}` with both keys.',
        method: 'GET',
        path: '/v1/keys?prefix={{listPrefix}}&limit=10',
        setup: [
          `const prefix = newKey('list/');`,
          `pm.variables.set('listPrefix', prefix);`,
          `await putApplied(prefix + 'a', 1);`,
          `await putApplied(prefix + 'b', 2);`,
        ],
        tests: [
          `pm.test('lists both keys', () => {`,
          `  pm.response.to.have.status(200);`,
          `  const p = pm.variables.get('listPrefix');`,
          `  pm.expect(pm.response.json().items.map((i) => i.key)).to.eql([p + 'a', p + 'b']);`,
          `  pm.expect(pm.response.json().nextCursor).to.eql(null);`,
          `});`,
        ],
        after: [
          `await removeKey(pm.variables.get('listPrefix') + 'a');`,
          `await removeKey(pm.variables.get('listPrefix') + 'b');`,
        ],
        example: {
          status: 200,
          body: {
            items: [{ key: 'postman/…/list/a', version: 1, updatedAt: '…', expiresAt: null }],
            nextCursor: null,
          },
        },
      },
      {
        name: 'Delete (Prefer: wait, 204)',
        description:
          '`DELETE /v1/keys/{key}` with `Prefer: wait=10`: answered once the delete is applied. ' +
          'A delete is decided when accepted (404 if the key is absent then).\n\nExpected: ' +
          '**204** with `Preference-Applied: wait=10`; a read then answers 404.',
        method: 'DELETE',
        path: '/v1/keys/{{key}}',
        headers: { Prefer: 'wait=10' },
        setup: keyAtV1('delete', `'bye'`),
        tests: [
          `pm.test('204', () => { pm.response.to.have.status(204); pm.expect(pm.response.headers.get('Preference-Applied')).to.eql('wait=10'); });`,
        ],
        after: [
          `const r = await send('GET', '/v1/keys/' + ${keyVar});`,
          `pm.test('gone', () => pm.expect(r.code).to.eql(404));`,
        ],
        example: { status: 204, headers: { 'Preference-Applied': 'wait=10' } },
      },
      {
        name: 'Read a deleted key (404)',
        description:
          '`GET` of a key the pre-request script wrote and then deleted.\n\n' +
          problemNote(404, 'KEY_NOT_FOUND'),
        method: 'GET',
        path: '/v1/keys/{{key}}',
        setup: [...keyAtV1('deleted', `'bye'`), `await removeKey(${keyVar});`],
        tests: expectProblem(404, 'KEY_NOT_FOUND'),
        example: problem(404, 'KEY_NOT_FOUND'),
      },
      {
        name: 'Delete an absent key (404)',
        description:
          '`DELETE` of a key that was never written: decided at once, nothing is queued.\n\n' +
          problemNote(404, 'KEY_NOT_FOUND'),
        method: 'DELETE',
        path: '/v1/keys/{{key}}',
        setup: freshKey('absent'),
        tests: expectProblem(404, 'KEY_NOT_FOUND'),
        example: problem(404, 'KEY_NOT_FOUND'),
      },
    ],
  };
}
