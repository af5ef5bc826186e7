import { afterAll, beforeAll, expect, it } from 'vitest';

import { call, type Stack, startStack } from '../helpers/stack.ts';

/**
 * Compare-and-set as clients use it: read, write value+1 with If-Match on the version read, retry
 * on 412 (or 503 KEY_BUSY). Every 2xx must be an increment that took effect in order, so the final
 * counter equals the number of 2xx answers: no lost update, no duplicate.
 */
let s: Stack;
beforeAll(async () => {
  s = await startStack({ env: { WORKER_CONCURRENCY: '64' } });
});
afterAll(async () => {
  await s.stop();
});

const CLIENTS = 8;
const INCREMENTS = 200;

it(`${String(CLIENTS)} clients incrementing one counter with If-Match: final value = number of 2xx`, async () => {
  const key = `/v1/keys/cas-${Math.random().toString(36).slice(2, 8)}`;
  const first = await call(s.url, 'PUT', key, {
    body: { value: 0 },
    headers: { Prefer: 'wait=5' },
  });
  expect(first.status).toBe(201);
  let successes = 0;
  let claimed = 0;
  const answers = new Map<number, number>();
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (claimed < INCREMENTS) {
        const g = await call(s.url, 'GET', key);
        expect(g.status).toBe(200);
        const w = await call(s.url, 'PUT', key, {
          body: { value: (g.body.value as number) + 1 },
          headers: { 'If-Match': `"${String(g.body.version)}"`, Prefer: 'wait=5' },
        });
        answers.set(w.status, (answers.get(w.status) ?? 0) + 1);
        if (w.status >= 200 && w.status < 300) {
          successes++;
          claimed++;
        } else {
          expect([412, 503]).toContain(w.status);
        }
      }
    }),
  );
  const end = await call(s.url, 'GET', key);
  console.log(`CAS: ${String(successes)} increments, answers ${JSON.stringify([...answers])}`);
  expect(end.body.value).toBe(successes);
  expect(successes).toBeGreaterThanOrEqual(INCREMENTS);
}, 120_000);
