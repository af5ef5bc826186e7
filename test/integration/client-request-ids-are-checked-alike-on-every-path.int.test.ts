import { afterAll, beforeAll, expect, it } from 'vitest';

import { buildRequest, rawRequest } from '../helpers/raw-http.ts';
import { type Stack, startStack } from '../helpers/stack.ts';

/**
 * A client's X-Request-Id is echoed when it is 1-255 characters of `[A-Za-z0-9_=-]`, and replaced
 * by a generated UUID otherwise, by the same function on the fast lane (plain GET and PUT of a
 * key) and through Hono (the same request with a trailing "?", and every other route).
 */
let s: Stack;
let port: number;
beforeAll(async () => {
  s = await startStack();
  port = Number(new URL(s.url).port);
});
afterAll(async () => {
  await s.stop();
});

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

async function requestIdOf(method: string, target: string, ids: string[]) {
  const headers: [string, string][] = ids.map((id) => ['X-Request-Id', id]);
  const body = method === 'PUT' ? Buffer.from('{"value":1}') : undefined;
  if (body) headers.push(['Content-Type', 'application/json']);
  const r = await rawRequest(port, buildRequest(method, target, headers, body));
  expect(r).not.toBeNull();
  const echoed = r!.headers['x-request-id'];
  if (r!.headers['content-type']?.includes('json')) {
    const parsed = JSON.parse(r!.body.toString('utf8')) as { requestId?: string };
    if (parsed.requestId !== undefined) expect(parsed.requestId).toBe(echoed);
  }
  return echoed;
}

const TARGETS: [string, string][] = [
  ['GET', '/v1/keys/missing'],
  ['GET', '/v1/keys/missing?'],
  ['PUT', '/v1/keys/rid'],
  ['PUT', '/v1/keys/rid?'],
  ['GET', '/v1/keys'],
  ['GET', '/v1/ops/nope'],
  ['GET', '/nowhere'],
];

it.each(TARGETS)('%s %s echoes a usable id', async (method, target) => {
  for (const id of ['req-1', 'A_b=c', 'x'.repeat(255)]) {
    expect(await requestIdOf(method, target, [id])).toBe(id);
  }
});

it.each(TARGETS)('%s %s replaces an unusable or repeated id', async (method, target) => {
  for (const ids of [[], ['not ok!'], ['x'.repeat(256)], ['a.b'], ['req-1', 'req-2']]) {
    expect(await requestIdOf(method, target, ids)).toMatch(UUID);
  }
});
