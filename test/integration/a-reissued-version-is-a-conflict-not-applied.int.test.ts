import { afterAll, beforeAll, expect, it } from 'vitest';

import { call, type Stack, startStack } from '../helpers/stack.ts';

/**
 * A failover of the queue Redis can lose acceptances that a worker had already applied (the
 * replica it promotes had not received them). The new primary then issues the same version again
 * to another write. The record keeps the op id of its version, so that write is a conflict:
 * reported failed (VERSION_REISSUED), never applied or "already applied", the value that holds
 * the version stays, and the key's counter is raised so the next write lands. With replica acks
 * off, as here, this is the only line of defence.
 */
let s: Stack;
beforeAll(async () => {
  s = await startStack();
});
afterAll(async () => {
  await s.stop();
});

/** What a failover that lost the key's acceptances leaves: the version counter of a fresh primary. */
async function loseAcceptances(key: string): Promise<void> {
  await s.queueRedis.del(s.queueKeysOf(key).version(key));
}

it('the same version issued twice: the second write fails VERSION_REISSUED and changes nothing', async () => {
  const a = await call(s.url, 'PUT', '/v1/keys/re', {
    body: { value: 'first' },
    headers: { Prefer: 'wait=10' },
  });
  expect(a.body.op).toMatchObject({ version: 1, status: 'applied' });
  await loseAcceptances('re');

  const b = await call(s.url, 'PUT', '/v1/keys/re', {
    body: { value: 'reissued' },
    headers: { Prefer: 'wait=10' },
  });
  expect(b.status).toBe(200);
  expect(b.body.op).toMatchObject({
    version: 1,
    status: 'failed',
    error: { code: 'VERSION_REISSUED' },
  });
  expect(b.body.op.appliedAt).toBeUndefined();
  expect((await call(s.url, 'GET', '/v1/keys/re')).body).toMatchObject({
    value: 'first',
    version: 1,
  });
  // The counter was raised past the version the data Redis holds: the next write lands.
  const c = await call(s.url, 'PUT', '/v1/keys/re', {
    body: { value: 'next' },
    headers: { Prefer: 'wait=10' },
  });
  expect(c.body.op).toMatchObject({ version: 2, status: 'applied' });
  expect((await call(s.url, 'GET', '/v1/keys/re')).body).toMatchObject({
    value: 'next',
    version: 2,
  });
});

it('a lower reissued version is superseded in version order, and a delete is a conflict too', async () => {
  for (const v of [1, 2, 3]) {
    await call(s.url, 'PUT', '/v1/keys/re2', {
      body: { value: v },
      headers: { Prefer: 'wait=10' },
    });
  }
  await call(s.url, 'DELETE', '/v1/keys/re2', { headers: { Prefer: 'wait=10' } });
  await loseAcceptances('re2');
  // Versions 1..3 again: below the tombstone's 4, they are superseded (version order decides).
  const low = await call(s.url, 'PUT', '/v1/keys/re2', {
    body: { value: 'old lineage' },
    headers: { Prefer: 'wait=10' },
  });
  expect(low.body.op).toMatchObject({ version: 1, status: 'superseded' });
  await call(s.url, 'PUT', '/v1/keys/re2', {
    body: { value: 'x' },
    headers: { Prefer: 'wait=10' },
  });
  await call(s.url, 'PUT', '/v1/keys/re2', {
    body: { value: 'y' },
    headers: { Prefer: 'wait=10' },
  });
  // Version 4 again, held by the delete's tombstone.
  const clash = await call(s.url, 'PUT', '/v1/keys/re2', {
    body: { value: 'z' },
    headers: { Prefer: 'wait=10' },
  });
  expect(clash.body.op).toMatchObject({
    version: 4,
    status: 'failed',
    error: { code: 'VERSION_REISSUED' },
  });
  expect((await call(s.url, 'GET', '/v1/keys/re2')).status).toBe(404);
  const after = await call(s.url, 'PUT', '/v1/keys/re2', {
    body: { value: 'back' },
    headers: { Prefer: 'wait=10' },
  });
  expect(after.body.op).toMatchObject({ version: 5, status: 'applied' });
});
