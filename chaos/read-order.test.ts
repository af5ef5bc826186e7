import { describe, expect, it } from 'vitest';

import { ReadOrderChecker } from './read-order.ts';

describe('the chaos readers’ order check', () => {
  it('flags a read that started after a newer read had completed', () => {
    const c = new ReadOrderChecker();
    expect(c.record('k', 0, 10, 36)).toBeNull();
    expect(c.record('k', 11, 20, 35)).toBe(36);
  });

  it('does not flag overlapping reads that complete out of order', () => {
    const c = new ReadOrderChecker();
    // read A starts at 0 and sees 35; read B starts at 1, sees 36 and completes first
    expect(c.record('k', 1, 5, 36)).toBeNull();
    expect(c.record('k', 0, 6, 35)).toBeNull();
    // but a read that starts after B completed must not go below 36
    expect(c.record('k', 7, 9, 35)).toBe(36);
    expect(c.record('k', 8, 12, 36)).toBeNull();
  });

  it('keeps keys apart and allows versions to rise', () => {
    const c = new ReadOrderChecker();
    expect(c.record('a', 0, 1, 50)).toBeNull();
    expect(c.record('b', 2, 3, 1)).toBeNull();
    expect(c.record('a', 4, 5, 51)).toBeNull();
    expect(c.record('a', 6, 7, 50)).toBe(51);
  });

  it('a read ending exactly when the next starts is not yet before it', () => {
    const c = new ReadOrderChecker();
    expect(c.record('k', 0, 10, 9)).toBeNull();
    expect(c.record('k', 10, 12, 8)).toBeNull();
  });
});
