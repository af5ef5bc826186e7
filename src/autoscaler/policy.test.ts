import { describe, expect, it } from 'vitest';

import { decide, desiredReplicas, type ScalePolicy } from './policy.ts';

const policy: ScalePolicy = {
  targetBacklogPerWorker: 100,
  minReplicas: 1,
  maxReplicas: 8,
  scaleDownCooldownMs: 60_000,
};

describe('desiredReplicas = clamp(ceil(backlog / target), min, max)', () => {
  it.each([
    [0, 1],
    [1, 1],
    [100, 1],
    [101, 2],
    [750, 8],
    [100_000, 8],
    [-5, 1],
  ])('backlog %i → %i', (backlog, want) => {
    expect(desiredReplicas(backlog, policy)).toBe(want);
  });
});

describe('decide', () => {
  it('scales up at once', () => {
    const d = decide({
      backlog: 450,
      current: 2,
      now: 0,
      policy,
      state: { belowSince: undefined },
    });
    expect(d).toMatchObject({ desired: 5, apply: 5, reason: 'scale up' });
  });

  it('scales down only after the cool-down has held throughout', () => {
    let state = { belowSince: undefined as number | undefined };
    let d = decide({ backlog: 0, current: 4, now: 1000, policy, state });
    expect(d.apply).toBeUndefined();
    state = d.state;
    d = decide({ backlog: 0, current: 4, now: 30_000, policy, state });
    expect(d.apply).toBeUndefined();
    expect(d.reason).toMatch(/cool-down \(31 s left\)/);
    d = decide({ backlog: 0, current: 4, now: 61_000, policy, state: d.state });
    expect(d).toMatchObject({ apply: 1, reason: 'scale down' });
  });

  it('a burst during the cool-down restarts it', () => {
    let d = decide({ backlog: 0, current: 4, now: 0, policy, state: { belowSince: undefined } });
    d = decide({ backlog: 400, current: 4, now: 30_000, policy, state: d.state });
    expect(d.state.belowSince).toBeUndefined();
    d = decide({ backlog: 0, current: 4, now: 61_000, policy, state: d.state });
    expect(d.apply).toBeUndefined();
  });
});
