export type { Admission, AdmissionDeps, MemoryReading } from './admission.ts';
export { createAdmission } from './admission.ts';
export { createApp } from './app.ts';
export type { ApiDeps } from './deps.ts';
export type { OpWaiter, Subscriber } from './op-waiter.ts';
export { createOpWaiter } from './op-waiter.ts';
export { rawProblemResponse, requestErrorResponse } from './problem.ts';
export { createRawPaths, RAW_ROUTES } from './raw-paths.ts';
