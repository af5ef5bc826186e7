export { ROUTE_ACCESS, type RouteAccess } from './access.ts';
export type { Admission, AdmissionDeps, MemoryReading } from './admission.ts';
export { createAdmission } from './admission.ts';
export { createApp } from './app.ts';
export {
  type Authenticator,
  type AuthenticatorDeps,
  createAuthenticator,
  type DenialReason,
} from './auth/authenticator.ts';
export { createKeysFile, type KeysFile } from './auth/keys-file.ts';
export type { ForwardingHeader, TrustedProxies } from './client-address.ts';
export { clientAddress, trustedProxies } from './client-address.ts';
export type { ApiDeps } from './deps.ts';
export type { RateLimits } from './middleware/rate-limit.ts';
export type { OpWaiter, Subscriber } from './op-waiter.ts';
export { createOpWaiter } from './op-waiter.ts';
export { rawProblemResponse, requestErrorResponse } from './problem.ts';
export type {
  RateLimitDecision,
  RateLimiter,
  RateLimiterDeps,
  RateLimitIdentity,
} from './rate-limiter.ts';
export { createRateLimiter } from './rate-limiter.ts';
export { createRawPaths, RAW_ROUTES } from './raw-paths.ts';
