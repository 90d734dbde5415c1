/**
 * The jetjob client SDK (`jetjob/client`).
 * @module
 */
export { createClient } from "./client.js";
export type {
  Client,
  CronDefinition,
  FleetJobDefinition,
  JobDefinition,
  NatsClientOptions,
  QueueClient,
  TypedJob,
  WaitOptions,
} from "./client.js";
export type { ClientOptions } from "./options.js";
export type {
  CronInfo,
  DeadLetterPage,
  ExclusiveKeyInfo,
  JobEvent,
  JobPage,
  LockInfo,
  QueueConfig,
  QueueDeleted,
  QueueInfo,
  QueueStats,
  StorageInfo,
  WorkflowInfo,
} from "./api.js";
export type { AcquireOptions, LockHandle, Locks } from "./locks.js";
export type {
  Fleet,
  FleetJob,
  FleetJobPage,
  FleetListQuery,
  FleetRun,
  HostResult,
  QueueConsumers,
  QueueWorkerInfo,
  RunOptions,
  TimelineEvent,
  WorkerInfo,
  Workers,
} from "./fleet.js";
export type {
  ArgsOf,
  EnqueueOptions,
  Job,
  JobError,
  JobTypeEntry,
  JobTypes,
  ResultOf,
  QueueRetentionOptions,
  RetentionOptions,
  RetryOptions,
  UniqueOptions,
} from "./types.js";
export { ErrorCode, JetjobError, isJetjobError, isConflict, isNotFound } from "../core/errors.js";
