import { request } from 'node:http';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { call, type Stack, startStack } from '../helpers/stack.ts';

/**
 * A value is read back as the JSON text it was sent as (without insignificant whitespace), or the
 * write is refused with a 400: never silently changed. JSON.parse + JSON.stringify would turn
 * 1e400 into null, 12345678901234567890 into 12345678901234567000 and -0 into 0. PUT is asked on
 * both transports (a trailing "?" sends the same request to the Hono route instead of the raw
 * path), POST /v1/keys on Hono.
 */
let s: Stack;
beforeAll(async () => {
  s = await startStack({ env: { MAX_VALUE_BYTES: '64' } });
});
afterAll(async () => {
  await s.stop();
});

const json = { 'Content-Type': 'application/json' };
const wait = { ...json, Prefer: 'wait=10' };

/** The value's text in a record's JSON, as the server wrote it (JSON.parse would lose it). */
function valueText(body: string): string | undefined {
  return /^\{"key":"[^"\\]*","value":(.*),"version":\d+,"createdAt":/s.exec(body)?.[1];
}

type Write = (key: string, body: string) => ReturnType<typeof call>;
const writes: [string, Write][] = [
  [
    'PUT (raw path)',
    (key, body) => call(s.url, 'PUT', `/v1/keys/${key}`, { rawBody: body, headers: wait }),
  ],
  [
    'PUT (Hono route)',
    (key, body) => call(s.url, 'PUT', `/v1/keys/${key}?`, { rawBody: body, headers: wait }),
  ],
  [
    'POST /v1/keys',
    (key, body) =>
      call(s.url, 'POST', '/v1/keys', {
        rawBody: body.replace(/^\s*\{/, `{"key":"${key}",`),
        headers: wait,
      }),
  ],
];

const values: [string, string, string][] = [
  ['a 20-digit integer', '12345678901234567890', '12345678901234567890'],
  ['a number over Number.MAX_VALUE', '1e400', '1e400'],
  ['negative zero', '-0', '-0'],
  ['a redundant exponent', '0.1e1', '0.1e1'],
  [
    'numbers in a nested value',
    '{"a": [1.50, -0.0, 1E+2], "b": {"c": 1e-400}}',
    '{"a":[1.50,-0.0,1E+2],"b":{"c":1e-400}}',
  ],
  [
    'escapes as written',
    String.raw`"\u00e9\/\ud83d\ude00 \""`,
    String.raw`"\u00e9\/\ud83d\ude00 \""`,
  ],
  ['whitespace', '[ 1 ,\n\t" a  b " ,\r\n{ } ]', '[1," a  b ",{}]'],
];

let n = 0;
describe.each(writes)('%s', (_name, write) => {
  it.each(values)('keeps %s', async (_what, sent, kept) => {
    const key = `v${String(++n)}`;
    const w = await write(key, `{ "value" : ${sent} }`);
    expect(w.status).toBe(201);
    expect(valueText(w.text)).toBe(kept); // Prefer: wait echoes the value
    const g = await call(s.url, 'GET', `/v1/keys/${key}`);
    expect(g.status).toBe(200);
    expect(valueText(g.text)).toBe(kept);
  });

  it('refuses duplicate member names with a 400 and writes nothing', async () => {
    const key = `dup${String(++n)}`;
    for (const body of [
      '{"value":{"a":1,"a":2}}',
      '{"value":[{"x":{"b":1,"b":1}}]}',
      '{"value":1,"value":2}',
      '{"value":1,"ttlSeconds":5,"ttlSeconds":6}',
    ]) {
      const r = await write(key, body);
      expect(r.status).toBe(400);
      expect(r.body).toMatchObject({ code: 'VALIDATION_FAILED' });
      expect(r.body.errors[0].message).toMatch(/duplicate member name/);
    }
    expect((await call(s.url, 'GET', `/v1/keys/${key}`)).status).toBe(404);
    // No version was taken by the refused writes.
    const ok = await write(key, '{"value":1}');
    expect(ok.status).toBe(201);
    expect(ok.body.version).toBe(1);
  });

  it('applies MAX_VALUE_BYTES to the value without its whitespace', async () => {
    const key = `size${String(++n)}`;
    const spaced = await write(key, `{"value":[1,${' '.repeat(1000)}2]}`);
    expect(spaced.status).toBe(201);
    expect(valueText(spaced.text)).toBe('[1,2]');
    const big = await write(key, `{"value":"${'x'.repeat(63)}"}`);
    expect(big.status).toBe(413);
    expect(big.body.code).toBe('VALUE_TOO_LARGE');
  });
});

it('POST refuses a duplicate "key" member', async () => {
  const r = await call(s.url, 'POST', '/v1/keys', {
    rawBody: '{"key":"dk1","key":"dk2","value":1}',
    headers: json,
  });
  expect(r.status).toBe(400);
  expect(r.body.errors[0]).toMatchObject({ path: 'key' });
  for (const key of ['dk1', 'dk2']) {
    expect((await call(s.url, 'GET', `/v1/keys/${key}`)).status).toBe(404);
  }
});

it('a UTF-8 BOM before the body is dropped on both PUT paths, as before', async () => {
  const bom = Buffer.from([0xef, 0xbb, 0xbf]);
  for (const path of ['/v1/keys/bom1', '/v1/keys/bom2?']) {
    const res = await fetch(s.url + path, {
      method: 'PUT',
      headers: wait,
      body: Buffer.concat([bom, Buffer.from('{"value":-0}')]),
    });
    expect(res.status).toBe(201);
    expect(valueText(await res.text())).toBe('-0');
  }
});

describe('invalid UTF-8 in a body', () => {
  it('is refused with 400 on every write path, never replaced with U+FFFD', async () => {
    {
      const port = new URL(s.url).port;
      const bad = Buffer.concat([
        Buffer.from('{"value":"'),
        Buffer.from([0xff, 0xfe]),
        Buffer.from('"}'),
      ]);
      const badKey = Buffer.concat([
        Buffer.from('{"key":"bad'),
        Buffer.from([0xff]),
        Buffer.from('key","value":1}'),
      ]);
      for (const [method, path, body] of [
        ['PUT', '/v1/keys/utf8-raw', bad],
        ['PUT', '/v1/keys/utf8-hono?x', bad],
        ['POST', '/v1/keys', badKey],
      ] as const) {
        const r = await new Promise<{ status: number; text: string }>((resolve, reject) => {
          const req = request(
            {
              host: '127.0.0.1',
              port,
              method,
              path,
              headers: { 'Content-Type': 'application/json', 'Content-Length': body.length },
            },
            (res) => {
              let text = '';
              res.on('data', (d: Buffer) => (text += d.toString()));
              res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
            },
          );
          req.on('error', reject);
          req.end(body);
        });
        expect(r.status, `${method} ${path}`).toBe(400);
        expect(JSON.parse(r.text)).toMatchObject({ code: 'MALFORMED_JSON' });
      }
      expect((await call(s.url, 'GET', '/v1/keys/utf8-raw')).status).toBe(404);
      expect((await call(s.url, 'GET', '/v1/keys?prefix=bad')).body.items).toEqual([]);
    }
  });
});
