import { createPeriodic, type Logger } from '../core/index.ts';
import { decide, type ScalePolicy, type ScaleState } from './policy.ts';

/** The worker Deployment's scale subresource, as the autoscaler uses it. */
export interface ScaleTarget {
  getReplicas(): Promise<number>;
  setReplicas(replicas: number): Promise<void>;
}

export interface Autoscaler {
  tick(): Promise<void>;
  start(): void;
  stop(): Promise<void>;
  /** When the last tick succeeded (0 = never): the readiness signal. */
  readonly lastSuccessAt: number;
}

/** Reads the backlog every interval and sets the worker replicas; logs each decision. */
export function createAutoscaler(deps: {
  backlog: () => Promise<number>;
  target: ScaleTarget;
  policy: ScalePolicy;
  intervalMs: number;
  logger: Logger;
  now?: () => number;
}): Autoscaler {
  const now = deps.now ?? Date.now;
  let state: ScaleState = { belowSince: undefined };
  let lastSuccessAt = 0;

  async function tick(): Promise<void> {
    const [backlog, current] = await Promise.all([deps.backlog(), deps.target.getReplicas()]);
    const d = decide({ backlog, current, now: now(), policy: deps.policy, state });
    state = d.state;
    if (d.apply !== undefined && d.apply !== current) {
      await deps.target.setReplicas(d.apply);
      deps.logger.info({ backlog, from: current, to: d.apply, reason: d.reason }, 'scaled workers');
    } else {
      deps.logger.debug({ backlog, current, desired: d.desired, reason: d.reason }, 'no change');
    }
    lastSuccessAt = now();
  }

  const periodic = createPeriodic(tick, deps.intervalMs, (err: unknown) => {
    deps.logger.warn({ err }, 'autoscaler tick failed');
  });
  return {
    tick,
    start: periodic.start,
    stop: periodic.stop,
    get lastSuccessAt() {
      return lastSuccessAt;
    },
  };
}
