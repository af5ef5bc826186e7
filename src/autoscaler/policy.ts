/**
 * The autoscaler's decision, as a pure function: replicas = clamp(ceil(backlog / target), min,
 * max), scaling up at once and down only after the wish to go lower has held for the whole
 * cool-down (so a burst that drains does not make the worker count flap).
 */
export interface ScalePolicy {
  targetBacklogPerWorker: number;
  minReplicas: number;
  maxReplicas: number;
  scaleDownCooldownMs: number;
}

export interface ScaleState {
  /** Since when the desired count has been below the current one (undefined: it is not). */
  belowSince: number | undefined;
}

export interface Decision {
  desired: number;
  /** The replica count to set now, or undefined to leave it. */
  apply: number | undefined;
  reason: string;
  state: ScaleState;
}

export function desiredReplicas(backlog: number, p: ScalePolicy): number {
  const want = Math.ceil(Math.max(0, backlog) / p.targetBacklogPerWorker);
  return Math.min(p.maxReplicas, Math.max(p.minReplicas, want));
}

export function decide(input: {
  backlog: number;
  current: number;
  now: number;
  policy: ScalePolicy;
  state: ScaleState;
}): Decision {
  const { backlog, current, now, policy } = input;
  const desired = desiredReplicas(backlog, policy);
  if (desired > current) {
    return { desired, apply: desired, reason: 'scale up', state: { belowSince: undefined } };
  }
  if (desired === current) {
    return { desired, apply: undefined, reason: 'steady', state: { belowSince: undefined } };
  }
  const belowSince = input.state.belowSince ?? now;
  if (now - belowSince >= policy.scaleDownCooldownMs) {
    return { desired, apply: desired, reason: 'scale down', state: { belowSince: undefined } };
  }
  return {
    desired,
    apply: undefined,
    reason: `cool-down (${String(Math.ceil((policy.scaleDownCooldownMs - (now - belowSince)) / 1000))} s left)`,
    state: { belowSince },
  };
}
