/** Pieces the request definitions share: problem answers, setup and cleanup lines, examples. */

import type { HelperSet } from './sandbox.ts';

export interface Example {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface Req {
  name: string;
  /** Markdown: what it shows, which headers matter, the expected answer. */
  description: string;
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: unknown;
  rawBody?: string;
  /** Async, in the pre-request script: make what the request needs; set its local variables. */
  setup?: string[];
  /** Synchronous assertions on pm.response. */
  tests: string[];
  /** Async, in the test script: checks through the API, then remove what the request made. */
  after?: string[];
  helpers?: HelperSet[];
  /** False when the request sends no credentials (to show the 401). */
  auth?: false;
  example: Example;
}

export interface Folder {
  name: string;
  description: string;
  items: Req[];
}

export const json = { 'Content-Type': 'application/json' };

export const problem = (status: number, code: string, headers: Record<string, string> = {}) => ({
  status,
  body: {
    type: `https://kvq.dev/problems/${code.toLowerCase().replaceAll('_', '-')}`,
    title: '…',
    status,
    detail: '…',
    code,
    requestId: '…',
  },
  headers: { 'Content-Type': 'application/problem+json', ...headers },
});

export const expectProblem = (status: number, code: string) => [
  `pm.test('${String(status)} ${code} as problem+json', () => {`,
  `  pm.response.to.have.status(${String(status)});`,
  `  pm.expect(pm.response.headers.get('Content-Type')).to.eql('application/problem+json');`,
  `  const b = pm.response.json();`,
  `  pm.expect(b.code).to.eql('${code}');`,
  `  pm.expect(b.status).to.eql(${String(status)});`,
  `  pm.expect(b.requestId).to.be.a('string');`,
  `});`,
];

/** A problem answer and the note every such description ends with. */
export const problemNote = (status: number, code: string) =>
  `Expected: **${String(status)}** \`application/problem+json\` (RFC 9457) with \`code: ${code}\`, ` +
  '`title`, `detail` and `requestId` (also in the `X-Request-Id` header).';

/** Setup lines: a fresh key in local variable `key` (nothing written). */
export const freshKey = (name: string) => [`pm.variables.set('key', newKey('${name}'));`];

/** Setup lines: a fresh key holding `value` at version 1, applied; `etag` = "1". */
export const keyAtV1 = (name: string, value: string) => [
  ...freshKey(name),
  `await putApplied(pm.variables.get('key'), ${value});`,
  `pm.variables.set('etag', '"1"');`,
];

/** After lines: the write changed nothing (the key is still absent). */
export const keyStillAbsent = [
  `const r = await send('GET', '/v1/keys/' + pm.variables.get('key'));`,
  `pm.test('changed nothing: the key does not exist', () => pm.expect(r.code).to.eql(404));`,
];

export const removeTheKey = [`await removeKey(pm.variables.get('key'));`];

export const receipt = {
  op: {
    id: '0190f3c2-…',
    key: 'postman/…/put',
    type: 'put',
    version: 1,
    status: 'queued',
    attempts: 0,
    acceptedAt: '2026-11-21T20:00:00.000Z',
  },
};
export const record = {
  key: 'postman/…/read',
  value: { hello: 'postman' },
  version: 1,
  createdAt: '2026-11-21T20:00:00.010Z',
  updatedAt: '2026-11-21T20:00:00.010Z',
  expiresAt: null,
};
export const deadLetterSummary = {
  id: '0190f3c2-…',
  key: 'postman-dlq/…',
  type: 'put',
  version: 1,
  attempts: 2,
  acceptedAt: '2026-11-21T20:00:00.000Z',
  failedAt: '2026-11-21T20:00:24.000Z',
  error: {
    code: 'DATA_UNAVAILABLE',
    message: 'data Redis: NOREPLICAS Not enough good replicas to write. …',
  },
};
