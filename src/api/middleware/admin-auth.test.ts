import { describe, expect, it } from 'vitest';

import { AppError } from '../../core/index.ts';
import { BASIC_CHALLENGE, basicAsBearer } from './admin-auth.ts';

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
