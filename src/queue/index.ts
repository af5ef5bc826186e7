export { createAcceptAndEnqueue } from './accept-enqueue.ts';
export { jobOptions } from './job-options.ts';
export {
  createQueueHandle,
  createQueueHandles,
  type QueueHandle,
  type QueueHandles,
  QueueUnavailableError,
} from './queue-handle.ts';
