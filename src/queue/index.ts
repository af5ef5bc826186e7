export { createAcceptAndEnqueue } from './accept-enqueue.ts';
export { jobOptions } from './job-options.ts';
export { createQueueHandle, type QueueHandle, QueueUnavailableError } from './queue-handle.ts';
