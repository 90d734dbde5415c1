/**
 * The jetjob worker SDK (`jetjob/worker`): run job handlers straight from JetStream.
 * @module
 */
export { createWorker } from "./worker.js";
export type { Worker } from "./worker.js";
export { JobFailure } from "./types.js";
export type {
  Handler,
  Handlers,
  JobContext,
  WorkerEvents,
  WorkerIdentityOptions,
  WorkerOptions,
  WorkerStats,
} from "./types.js";
