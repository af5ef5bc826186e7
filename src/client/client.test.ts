import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { createClient } from './client.ts';
import type { KvqClient } from './contract.ts';
import { KvqError } from './errors.ts';

/**
 * What the client sends, without a server: a fetch that records each request's URL as fetch
 * would send it (after WHATWG URL parsing, which resolves dot segments) and answers 202 or 200.
 */
function recordingClient(url = 'http://127.0.0.1:8080') {
  const sent: string[] = [];
  const op = { id: '1-1', key: 'k', type: 'put', version: 1, status: 'queued' };
  const fake: typeof fetch = (input, init) => {
    sent.push(new Request(input, init).url);
    const method = init?.method ?? 'GET';
    const status = method === 'GET' || method === 'HEAD' ? 200 : 202;
    const body = method === 'HEAD' ? null : JSON.stringify(status === 202 ? { op } : { value: 1 });
    return Promise.resolve(
      new Response(body, {
        status,
        headers: { 'Content-Type': 'application/json', ETag: '"1"' },
      }),
    );
  };
  return { client: createClient({ url, fetch: fake }), sent };
}

/** Every method that takes a key, called with `key`. */
const keyCalls = (c: KvqClient, key: string): Promise<unknown>[] => [
  c.get(key),
  c.getIfChanged(key, 1),
  c.head(key),
  c.put(key, 1),
  c.create(key, 1),
  c.delete(key),
];

/** The key a request URL names, as the server decodes it. */
const keyOf = (url: string) => decodeURIComponent(new URL(url).pathname.slice('/v1/keys/'.length));

const segment = fc.constantFrom('.', '..', '...', '%2e', '%2E%2e', '.a', 'a', 'b c', 'é', '%2F');
const keys = fc.array(segment, { minLength: 1, maxLength: 5 }).map((s) => s.join('/'));
const hasDotSegment = (key: string) => key.split('/').some((s) => s === '.' || s === '..');

describe('keys the server refuses by name are refused before anything is sent', () => {
  it('a "." or ".." segment: INVALID_KEY (400, not retryable) from every key method, no request', async () => {
    await fc.assert(
      fc.asyncProperty(
        keys.filter(hasDotSegment),
        fc.constantFrom('', 'x/', 'x/y/'),
        async (key, prefix) => {
          const { client, sent } = recordingClient();
          for (const call of keyCalls(client, prefix + key)) {
            const err = await call.then(
              () => undefined,
              (e: unknown) => e,
            );
            expect(err).toBeInstanceOf(KvqError);
            expect(err).toMatchObject({ code: 'INVALID_KEY', status: 400, retryable: false });
            expect((err as KvqError).detail).toContain('".." segment');
          }
          expect(sent).toEqual([]);
        },
      ),
    );
  });

  it('any other key (percent signs, "...", ".a" included) is sent to exactly that key', async () => {
    await fc.assert(
      fc.asyncProperty(
        keys.filter((k) => !hasDotSegment(k)),
        async (key) => {
          const { client, sent } = recordingClient();
          await Promise.all(keyCalls(client, key));
          // create sends the key in its body (POST /v1/keys); the others in the path.
          const paths = sent.filter((u) => new URL(u).pathname !== '/v1/keys');
          expect(paths).toHaveLength(5);
          for (const url of paths) expect(keyOf(url)).toBe(key);
        },
      ),
    );
  });

  it('an empty key: INVALID_KEY, not a request to /v1/keys/', async () => {
    const { client, sent } = recordingClient();
    for (const call of keyCalls(client, '')) {
      await expect(call).rejects.toMatchObject({ code: 'INVALID_KEY', detail: 'the key is empty' });
    }
    expect(sent).toEqual([]);
  });
});

describe('a url the client cannot use', () => {
  it.each([
    'nope',
    '127.0.0.1:8080',
    'ftp://example.com',
    'http://user:secret@127.0.0.1:8080',
    'http://127.0.0.1:8080/?x=1',
  ])('%s: INVALID_URL, not retryable, nothing sent', async (url) => {
    const { client, sent } = recordingClient(url);
    const err = await client.health().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: 'INVALID_URL', status: 0, retryable: false });
    expect((err as KvqError).detail).not.toContain('secret');
    expect(sent).toEqual([]);
  });

  it('an http(s) root, with or without a path or a final "/", is used', async () => {
    for (const url of ['http://127.0.0.1:8080', 'https://kvq.example/', 'http://h/kvq']) {
      const { client, sent } = recordingClient(url);
      await client.get('a');
      expect(sent).toHaveLength(1);
    }
  });
});
