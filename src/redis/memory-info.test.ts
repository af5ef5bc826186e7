import { describe, expect, it } from 'vitest';

import { fullest, parseInfoMemory } from './memory-info.ts';

describe('parseInfoMemory', () => {
  it('reads used_memory and maxmemory, not their look-alikes', () => {
    const info = [
      '# Memory',
      'used_memory:6123456',
      'used_memory_human:5.84M',
      'used_memory_rss:9000000',
      'used_memory_peak:7000000',
      'maxmemory:6291456',
      'maxmemory_human:6.00M',
      'maxmemory_policy:noeviction',
      '',
    ].join('\r\n');
    expect(parseInfoMemory(info)).toEqual({ used: 6123456, max: 6291456 });
  });

  it('reports no limit as max 0', () => {
    expect(parseInfoMemory('used_memory:100\nmaxmemory:0\n')).toEqual({ used: 100, max: 0 });
  });

  it('fails on a reply without the fields', () => {
    expect(() => parseInfoMemory('# Memory\r\n')).toThrow(/used_memory/);
  });
});

describe('fullest', () => {
  it('answers with the primary closest to its maxmemory, or the largest without limits', () => {
    expect(
      fullest([
        { used: 900, max: 10_000 },
        { used: 80, max: 100 },
        { used: 50, max: 100 },
      ]),
    ).toEqual({ used: 80, max: 100 });
    expect(
      fullest([
        { used: 5, max: 0 },
        { used: 7, max: 0 },
      ]),
    ).toEqual({ used: 7, max: 0 });
    expect(() => fullest([])).toThrow(/no memory readings/);
  });
});
