/**
 * The operations behind the client SDK, as one interface with two implementations: over the HTTP API
 * and straight over NATS (the use cases the API server's routes call, src/usecases).
 */
import type { CronView as CronInfo } from "../store/features/cron.js";
import type { ExclusiveKeyView as ExclusiveKeyInfo } from "../store/features/exclusive-view.js";
import type { LockGrant as LockGrantInfo, LockView as LockInfo } from "../store/features/locks.js";
import type { BackpressureWire, QueueConfigView as QueueConfig } from "../store/queues/queue-config.js";
import type { QueueDeleted } from "../store/queues/queue-delete.js";
import type { StorageReport as StorageInfo } from "../store/retention/report.js";
import type { QueueStats } from "../store/queues/stats.js";
import type { QueueRetentionWire } from "../core/storage-options.js";
import type { WorkflowView as WorkflowInfo } from "../store/workflows/workflow-record.js";
import type { DeadLetterPage } from "../store/features/dlq.js";
import type { JobPage } from "../store/jobs/list.js";
import type { JobState } from "../core/states.js";
import type { JobEvent } from "../usecases/job-stream.js";
import type { QueueInfo } from "../usecases/queues.js";
import type { Job } from "./types.js";

/**
 * Wire shapes shared with the server: the use cases' and the store's own view types (one type per
 * shape), so the two transports and the HTTP API cannot drift.
 */
export type {
  CronInfo,
  DeadLetterPage,
  JobEvent,
  JobPage,
  QueueInfo,
  ExclusiveKeyInfo,
  LockGrantInfo,
  LockInfo,
  QueueConfig,
  QueueDeleted,
  QueueStats,
  StorageInfo,
  WorkflowInfo,
};

/** @internal what each transport provides */
export interface Api {
  enqueue(bodies: Record<string, unknown>[], atomic: boolean): Promise<Job[]>;
  get(id: string): Promise<Job>;
  cancel(id: string): Promise<Job>;
  retry(id: string): Promise<Job>;
  list(q: { queue: string; state?: JobState; limit?: number; cursor?: string }): Promise<JobPage>;
  watch(id: string, signal?: AbortSignal): AsyncIterable<JobEvent>;
  queues: {
    list(): Promise<QueueInfo[]>;
    stats(name: string): Promise<QueueStats>;
    setPaused(name: string, paused: boolean): Promise<{ name: string; paused: boolean }>;
    configure(
      name: string,
      change: {
        exclusive_key_template?: string | null;
        retention?: QueueRetentionWire | null;
        backpressure?: BackpressureWire | null;
      },
    ): Promise<QueueConfig>;
    delete(name: string): Promise<QueueDeleted>;
  };
  storage(): Promise<StorageInfo>;
  exclusiveKeys(q: { queue?: string }): Promise<ExclusiveKeyInfo[]>;
  locks: {
    acquire(
      req: { name: string; ttl_ms?: number; wait_ms?: number; owner?: string },
      signal?: AbortSignal,
    ): Promise<LockGrantInfo>;
    renew(name: string, token: string, ttlMs?: number): Promise<LockGrantInfo>;
    release(name: string, token: string): Promise<{ released: true; name: string }>;
    list(): Promise<LockInfo[]>;
  };
  deadLetters: {
    list(q: { queue?: string; limit?: number; offset?: number }): Promise<DeadLetterPage>;
    retry(id: string): Promise<Job>;
    delete(id: string): Promise<{ deleted: true; job_id: string }>;
  };
  cron: {
    list(): Promise<CronInfo[]>;
    register(body: Record<string, unknown>): Promise<CronInfo>;
    delete(name: string): Promise<CronInfo>;
    /** Pauses (`enabled: false`) or resumes a schedule. */
    setEnabled(name: string, enabled: boolean): Promise<CronInfo>;
    /** Enqueues the schedule's job once, now. */
    trigger(name: string): Promise<Job>;
  };
  workflows: {
    create(body: Record<string, unknown>): Promise<WorkflowInfo>;
    get(id: string): Promise<WorkflowInfo>;
    cancel(id: string): Promise<WorkflowInfo>;
  };
  close(): Promise<void>;
}
