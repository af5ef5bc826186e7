import { afterAll, beforeAll, expect, it } from 'vitest';

import { buildRequest, rawRequest } from '../helpers/raw-http.ts';
import { call, type Stack, startStack } from '../helpers/stack.ts';

/**
 * One header casing on the wire: every header kvq decides (content-type, x-request-id, etag,
 * location, retry-after, preference-applied, www-authenticate, allow, cache-control) is
 * lowercase, as HTTP/2 and fetch show them, on the raw fast lane, through Hono and for errors the
 * HTTP parser answers. Only the framing headers Node's HTTP/1.1 writer adds keep its spelling
 * (the raw fast lane spells Content-Length the same way).
 */

const TOKEN = 'casing-token';
const FRAMING = new Set([
  'Date',
  'Connection',
  'Keep-Alive',
  'Transfer-Encoding',
  'Content-Length',
]);
const auth: [string, string] = ['Authorization', `Bearer ${TOKEN}`];
const json: [string, string] = ['Content-Type', 'application/json'];

let s: Stack;
let port: number;
beforeAll(async () => {
  s = await startStack({ worker: false, env: { API_TOKENS: TOKEN, READ_AFTER_WAIT_MS: '0' } });
  port = Number(new URL(s.url).port);
});
afterAll(async () => {
  await s.stop();
});

const send = (method: string, path: string, headers: [string, string][] = [], body?: string) =>
  rawRequest(
    port,
    buildRequest(method, path, headers, body === undefined ? undefined : Buffer.from(body)),
  );

/** Names that are neither lowercase nor one of Node's framing headers. */
const miscased = (names: string[]) => names.filter((n) => n !== n.toLowerCase() && !FRAMING.has(n));

it('every header kvq sets is lowercase; framing headers keep Node’s spelling', async () => {
  // With no worker yet, a write stays pending: a read after it is 503 OP_PENDING.
  const pending = await send('PUT', '/v1/keys/case/p', [auth, json], '{"value":1}');
  const pendingId = (JSON.parse(pending!.body.toString()) as { op: { id: string } }).op.id;
  const busy = await send('GET', `/v1/keys/case/p?after=${pendingId}`, [auth]);
  expect(busy!.status).toBe(503);
  expect(busy!.names).toContain('retry-after');
  expect(miscased(busy!.names)).toEqual([]);
  await s.startWorker();

  const put = await call(s.url, 'PUT', '/v1/keys/case/a', {
    body: { value: 1 },
    headers: { Authorization: `Bearer ${TOKEN}`, Prefer: 'wait=10' },
  });
  expect(put.status).toBe(201);
  const opId = put.body.op.id as string;
  const cases: [string, Promise<Awaited<ReturnType<typeof send>>>, string[]][] = [
    ['raw lane read', send('GET', '/v1/keys/case/a', [auth]), ['etag', 'x-request-id']],
    ['raw lane 404', send('GET', '/v1/keys/case/none', [auth]), ['content-type']],
    ['raw lane write', send('PUT', '/v1/keys/case/b', [auth, json], '{"value":2}'), ['location']],
    [
      'Hono write, waited',
      send('PUT', '/v1/keys/case/a?x=1', [auth, json, ['Prefer', 'wait=10']], '{"value":3}'),
      ['etag', 'preference-applied'],
    ],
    [
      'Hono read, 304',
      send('GET', '/v1/keys/case/a?x=1', [auth, ['If-None-Match', '*']]),
      ['etag'],
    ],
    [
      'Hono receipt',
      send('GET', `/v1/ops/${opId}`, [auth, ['Prefer', 'wait=1']]),
      ['preference-applied'],
    ],
    ['401', send('GET', '/v1/keys', []), ['www-authenticate']],
    ['405', send('PATCH', '/v1/keys', [auth]), ['allow']],
    ['302', send('GET', '/', []), ['location']],
    ['asset', send('GET', '/docs/swagger-ui.css', []), ['cache-control']],
    ['readyz', send('GET', '/readyz', []), ['content-type']],
    ['parser error', rawRequest(port, Buffer.from('NOT HTTP\r\n\r\n')), ['content-type']],
  ];
  for (const [name, pending, expected] of cases) {
    const r = await pending;
    expect(r, name).not.toBeNull();
    for (const h of expected) expect(r!.names, name).toContain(h);
    expect(miscased(r!.names), name).toEqual([]);
  }
});
