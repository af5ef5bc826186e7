export { createAcceptAndEnqueue } from './accept-enqueue.ts';
export { jobOptions } from './job-options.ts';
export { createJobSource, type FailedJobView } from './job-source.ts';
export { createPartitionWorkers, type PartitionWorkers } from './partition-workers.ts';
export {
  createQueueHandle,
  createQueueHandles,
  EVENT_STREAM_MAX_LEN,
  type QueueHandle,
  type QueueHandles,
  QueueUnavailableError,
} from './queue-handle.ts';
export { createQueueStats, type QueueStats } from './queue-stats.ts';
export { traceAcceptAndEnqueue, traceEnqueue } from './trace-producer.ts';
