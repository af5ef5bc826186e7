import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';

import { buildRequest, rawRequest } from '../helpers/raw-http.ts';
import { call, type Stack, startStack } from '../helpers/stack.ts';

/**
 * Property: whatever arrives over HTTP — odd methods, paths, headers, bodies, lengths — the API
 * never answers 5xx, every 4xx is problem+json, the process stays healthy and keys that were not
 * addressed are unchanged.
 */

const RUNS = 5000;
let s: Stack;
let port: number;
const SENTINELS = Array.from(
  { length: 5 },
  (_, i) => [`sentinel/${String(i)}`, { n: i, s: 'é✓' }] as const,
);

beforeAll(async () => {
  s = await startStack({ env: { MAX_VALUE_BYTES: '65536', MAX_KEY_BYTES: '512' } });
  port = Number(new URL(s.url).port);
  for (const [k, v] of SENTINELS) {
    const r = await call(s.url, 'PUT', `/v1/keys/${k}`, {
      body: { value: v },
      headers: { Prefer: 'wait=5' },
    });
    expect(r.status).toBe(201);
  }
});
afterAll(async () => {
  await s.stop();
});

const hex = fc
  .integer({ min: 0, max: 255 })
  .map((n) => `%${n.toString(16).padStart(2, '0').toUpperCase()}`);
const segment = fc.oneof(
  fc.stringMatching(/^[A-Za-z0-9._~-]{1,20}$/),
  fc.string({ unit: 'grapheme', maxLength: 12 }).map((t) => encodeURIComponent(t)),
  fc.array(hex, { minLength: 1, maxLength: 8 }).map((a) => a.join('')),
  fc.constantFrom(
    '..',
    '.',
    '',
    '%2e%2e',
    '%2F',
    '%00',
    '%0A',
    '%',
    '%G1',
    '%E0%A4',
    '%ED%A0%80',
    ';',
    '*',
  ),
  fc.integer({ min: 500, max: 4000 }).map((n) => 'k'.repeat(n)),
);
const key = fc.array(segment, { minLength: 0, maxLength: 4 }).map((a) => `f/${a.join('/')}`);
const path = fc.oneof(
  { weight: 6, arbitrary: key.map((k) => `/v1/keys/${k}`) },
  { weight: 1, arbitrary: key.map((k) => `/v1/keys/${k}?after=${k.slice(0, 40)}`) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(segment, fc.integer({ min: -5, max: 5000 }))
      .map(([p, l]) => `/v1/keys?prefix=f/${p}&limit=${String(l)}`),
  },
  { weight: 1, arbitrary: segment.map((c) => `/v1/keys?cursor=${c}`) },
  { weight: 1, arbitrary: segment.map((p) => `/v1/ops/${p}`) },
  { weight: 1, arbitrary: segment.map((p) => `/v1/dlq/${p}`) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '/',
      '/healthz',
      '/readyz',
      '/v1',
      '/v1/keys',
      '/v1/keys/',
      '/v1/dlq',
      '//v1//keys',
      '/openapi.json',
      '*',
    ),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 30 }).map((t) => `/${t}`) },
);
const method = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom('GET', 'PUT', 'POST', 'DELETE', 'HEAD') },
  { weight: 1, arbitrary: fc.constantFrom('PATCH', 'OPTIONS', 'TRACE', 'FOO', 'get', 'PUT ') },
);
const jsonValue = fc.jsonValue({ maxDepth: 4 });
const nested = fc
  .integer({ min: 1, max: 3000 })
  .map((d) => `{"value":${'['.repeat(d)}${']'.repeat(d)}}`);
const body = fc.oneof(
  {
    weight: 4,
    arbitrary: fc
      .record({
        value: jsonValue,
        ttlSeconds: fc.option(fc.oneof(fc.integer(), fc.double(), fc.string()), { nil: undefined }),
      })
      .map((o) => JSON.stringify(o)),
  },
  {
    weight: 2,
    arbitrary: fc
      .record({
        key: fc.oneof(
          fc.string({ maxLength: 600 }).map((k) => `f/${k}`),
          fc.integer(),
        ),
        value: jsonValue,
      })
      .map((o) => JSON.stringify(o)),
  },
  { weight: 2, arbitrary: fc.json() },
  { weight: 1, arbitrary: fc.string({ maxLength: 200 }) },
  { weight: 1, arbitrary: nested },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 60_000, max: 300_000 }).map((n) => `{"value":"${'x'.repeat(n)}"}`),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '',
      '{',
      'null',
      '[]',
      '{"value":}',
      '{"value":1,"value":2}',
      '\u0000',
    ),
  },
  {
    weight: 1,
    arbitrary: fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b).toString('latin1')),
  },
);
const headerValue = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.constantFrom('*', '"1"', 'W/"2"', '"x"', 'wait=1', 'wait=0', 'wait=abc', '-1'),
);
/** `arb` in one case out of `oneIn`, else no header. */
const sometimes = <T>(arb: fc.Arbitrary<T>, oneIn: number) =>
  fc.oneof({ weight: oneIn - 1, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: arb });
const headers = fc
  .record({
    'Content-Type': fc.oneof(
      { weight: 6, arbitrary: fc.constant('application/json') },
      {
        weight: 1,
        arbitrary: fc.constantFrom(
          'application/json; charset=utf-8',
          'application/merge-patch+json',
          'text/plain',
          'multipart/form-data',
          '',
        ),
      },
      { weight: 1, arbitrary: fc.string({ maxLength: 30 }) },
    ),
    'If-Match': sometimes(headerValue, 4),
    'If-None-Match': sometimes(headerValue, 4),
    Prefer: sometimes(
      fc.oneof(
        headerValue,
        fc.integer({ min: 0, max: 2 }).map((n) => `wait=${String(n)}`),
      ),
      4,
    ),
    'Idempotency-Key': sometimes(
      fc.oneof(fc.string({ maxLength: 20 }), fc.constant('k'.repeat(300))),
      5,
    ),
    'X-Large': sometimes(
      fc.integer({ min: 1000, max: 40_000 }).map((n) => 'h'.repeat(n)),
      20,
    ),
  })
  .map((h) => Object.entries(h).filter((e): e is [string, string] => e[1] !== undefined));
const lengthSkew = fc.oneof(
  { weight: 8, arbitrary: fc.constant(0) },
  { weight: 1, arbitrary: fc.integer({ min: -20, max: 20 }) },
);

/** Header values go on the wire as latin1; drop characters that would end the line. */
const clean = (v: string) => v.replace(/[\r\n]/g, ' ');

it(`${String(RUNS)} fuzzed requests: no 5xx, every 4xx problem+json, sentinels untouched`, async () => {
  let answered = 0;
  const statuses: Record<number, number> = {};
  await fc.assert(
    fc.asyncProperty(
      method,
      path,
      headers,
      fc.option(body, { nil: undefined }),
      lengthSkew,
      async (m, p, h, b, skew) => {
        const bytes = b === undefined ? undefined : Buffer.from(b, 'utf8');
        const declared = bytes === undefined ? undefined : Math.max(0, bytes.length + skew);
        const req = buildRequest(
          m,
          p.replace(/[\s]/g, '%20'),
          h.map(([k, v]) => [k, clean(v)]),
          bytes,
          declared,
        );
        // A body shorter than its Content-Length leaves the server waiting for the rest.
        const r = await rawRequest(port, req, skew > 0 ? 300 : 5000);
        if (!r) {
          // Only a body shorter than its Content-Length may go unanswered (the server is still
          // waiting for the rest when the client gives up).
          expect(skew).toBeGreaterThan(0);
          return;
        }
        answered++;
        statuses[r.status] = (statuses[r.status] ?? 0) + 1;
        expect(
          r.status,
          `${m} ${p.slice(0, 80)} -> ${String(r.status)} ${r.body.toString().slice(0, 200)}`,
        ).toBeLessThan(500);
        if (r.status >= 400 && m !== 'HEAD') {
          expect(r.headers['content-type']).toBe('application/problem+json');
          const problem = JSON.parse(r.body.toString('utf8')) as { status: number; code: string };
          expect(problem.status).toBe(r.status);
          expect(problem.code).toMatch(/^[A-Z_]+$/);
        }
      },
    ),
    { numRuns: RUNS, endOnFailure: true },
  );
  expect(answered).toBeGreaterThan(RUNS * 0.9);
  expect(Object.keys(statuses).length).toBeGreaterThan(5);
  console.log(`fuzz: ${String(answered)} answered, statuses ${JSON.stringify(statuses)}`);

  expect((await call(s.url, 'GET', '/healthz')).status).toBe(200);
  expect((await call(s.url, 'GET', '/readyz')).status).toBe(200);
  for (const [k, v] of SENTINELS) {
    const g = await call(s.url, 'GET', `/v1/keys/${k}`);
    expect(g.body).toMatchObject({ key: k, value: v, version: 1 });
  }
}, 180_000);
