import { describe, expect, it } from 'vitest';

import { AppError } from '../../core/index.ts';
import { BASIC_CHALLENGE, basicAsBearer, checkScope, tokenAuthenticator } from './admin-auth.ts';

const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('basicAsBearer', () => {
  it('reads the password of Basic credentials as a bearer token, whatever the user name', () => {
    expect(basicAsBearer([`Basic ${b64('ops:tok-1')}`])).toEqual(['Bearer tok-1']);
    expect(basicAsBearer([`basic ${b64(':tok-1')}`])).toEqual(['Bearer tok-1']);
    // Only the first colon splits: a password may hold one.
    expect(basicAsBearer([`BASIC ${b64('a:b:c')}`])).toEqual(['Bearer b:c']);
  });

  it('passes anything else on unchanged', () => {
    for (const lines of [[], ['Bearer x'], [`Basic ${b64('a:b')}`, 'Bearer y']]) {
      expect(basicAsBearer(lines)).toBe(lines);
    }
  });

  it.each(['Basic', 'Basic !!!', `Basic ${b64('no-colon')}`, `Basic ${b64('user:')}`])(
    '%s is a 401 with the Basic challenge',
    (line) => {
      const err = (() => {
        try {
          basicAsBearer([line]);
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(err).toBeInstanceOf(AppError);
      expect((err as AppError).code).toBe('UNAUTHORIZED');
      expect((err as AppError).headers['www-authenticate']).toBe(BASIC_CHALLENGE);
    },
  );
});

describe('tokenAuthenticator', () => {
  it('is undefined without tokens', () => {
    expect(tokenAuthenticator([])).toBeUndefined();
  });

  it('names each token by a digest, never the token, as an admin', async () => {
    const auth = tokenAuthenticator(['tok-1', 'tok-2']);
    const one = await auth?.(['Bearer tok-1']);
    const two = await auth?.(['Bearer tok-2']);
    expect(one).toMatchObject({
      scope: 'admin',
      keyId: expect.stringMatching(/^token-[0-9a-f]{12}$/),
    });
    expect(two?.keyId).not.toBe(one?.keyId);
    expect(one?.keyId).not.toContain('tok-1');
    expect(await auth?.(['Bearer tok-1'])).toEqual(one);
  });

  it('rejects what the bearer check refuses', async () => {
    const auth = tokenAuthenticator(['tok-1']);
    await expect(auth?.(['Bearer nope'])).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
    await expect(auth?.([])).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
    await expect(auth?.(['Bearer tok-1', 'Bearer tok-1'])).rejects.toMatchObject({
      code: 'INVALID_HEADER',
    });
  });
});

describe('checkScope', () => {
  it('lets admin through, refuses read and write with 403 insufficient_scope, and no principal (auth off)', () => {
    expect(() => checkScope(undefined, 'admin')).not.toThrow();
    expect(() => checkScope({ keyId: 'k', name: 'n', scope: 'admin' }, 'admin')).not.toThrow();
    for (const scope of ['read', 'write'] as const) {
      expect(() => checkScope({ keyId: 'k', name: 'n', scope }, 'admin')).toThrow(
        expect.objectContaining({ code: 'INSUFFICIENT_SCOPE', status: 403 }),
      );
    }
  });
});
