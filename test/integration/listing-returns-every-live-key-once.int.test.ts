import { afterAll, beforeAll, expect, it } from 'vitest';

import { call, type Stack, startStack } from '../helpers/stack.ts';

let s: Stack;
const keys = Array.from({ length: 57 }, (_, i) => `list/${String(i).padStart(3, '0')}`).concat([
  'list/é',
  'list/z/deep',
  'other/1',
  'lisu',
]);
beforeAll(async () => {
  s = await startStack();
  await Promise.all(
    keys.map((k) =>
      call(s.url, 'PUT', `/v1/keys/${k}`, { body: { value: k }, headers: { Prefer: 'wait=10' } }),
    ),
  );
  await call(s.url, 'DELETE', '/v1/keys/list/010', { headers: { Prefer: 'wait=5' } });
  await call(s.url, 'PUT', '/v1/keys/list/ttl', {
    body: { value: 1, ttlSeconds: 1 },
    headers: { Prefer: 'wait=5' },
  });
});
afterAll(async () => {
  await s.stop();
});

async function all(query: string) {
  const seen: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const r = await call(s.url, 'GET', `/v1/keys?${query}${cursor ? `&cursor=${cursor}` : ''}`);
    expect(r.status).toBe(200);
    for (const item of r.body.items) {
      expect(item).toMatchObject({ version: expect.any(Number), updatedAt: expect.any(String) });
      seen.push(item.key);
    }
    cursor = r.body.nextCursor;
    pages++;
  } while (cursor && pages < 100);
  return { seen, pages };
}

it('pages through every live key exactly once in byte order, skipping deleted ones', async () => {
  const { seen, pages } = await all('prefix=list/&limit=7');
  const expected = keys.filter((k) => k.startsWith('list/') && k !== 'list/010').concat('list/ttl');
  expected.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  expect(seen).toEqual(expected);
  expect(pages).toBeGreaterThanOrEqual(9);
});

it('lists everything without a prefix and reports expiresAt', async () => {
  const r = await call(s.url, 'GET', '/v1/keys?limit=1000');
  expect(r.body.nextCursor).toBeNull();
  expect(r.body.items.map((i: { key: string }) => i.key)).toContain('other/1');
  const ttl = r.body.items.find((i: { key: string }) => i.key === 'list/ttl');
  expect(ttl.expiresAt).toBeTypeOf('string');
});

it('leaves out keys whose TTL has passed', async () => {
  await new Promise((r) => setTimeout(r, 1100));
  const { seen } = await all('prefix=list/t&limit=2');
  expect(seen).toEqual([]);
});

it('defaults to 100 items and an empty prefix lists all', async () => {
  const r = await call(s.url, 'GET', '/v1/keys?prefix=');
  expect(r.status).toBe(200);
  expect(r.body.items.length).toBeLessThanOrEqual(100);
  expect(r.body.items.length).toBeGreaterThan(50);
});
