export { k8sScaleTarget } from './k8s-target.ts';
export type { Autoscaler, ScaleTarget } from './loop.ts';
export { createAutoscaler } from './loop.ts';
export type { Decision, ScalePolicy, ScaleState } from './policy.ts';
export { decide, desiredReplicas } from './policy.ts';
