/**
 * The operations behind the client SDK, as one interface with two implementations: over the HTTP API
 * and straight over NATS (the same store functions the API server calls).
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
import type { Job } from "./types.js";

/** Wire shapes shared with the server: the server's own view types, so the two cannot drift. */
export type {
  CronInfo,
  ExclusiveKeyInfo,
  LockGrantInfo,
  LockInfo,
  QueueConfig,
  QueueDeleted,
  QueueStats,
  StorageInfo,
  WorkflowInfo,
};

export interface JobPage {
  jobs: Job[];
  next_cursor?: string;
}

export interface QueueInfo {
  name: string;
  status: "active" | "paused";
  paused: boolean;
  created_at: string;
}

export interface DeadLetterPage {
  jobs: Job[];
  total: number;
}

/** A lifecycle event (OJS shape). */
export interface JobEvent {
  type: string;
  timestamp: string;
  data: {
    job_id: string;
    job_type: string;
    queue: string;
    attempt?: number;
    duration_ms?: number;
    worker_id?: string;
    error_code?: string;
    state?: string;
    /** The job's W3C trace id, when it was enqueued with trace context. */
    trace_id?: string;
  };
}

/** @internal what each transport provides */
export interface Api {
  enqueue(bodies: Record<string, unknown>[], atomic: boolean): Promise<Job[]>;
  get(id: string): Promise<Job>;
  cancel(id: string): Promise<Job>;
  retry(id: string): Promise<Job>;
  list(q: { queue: string; state?: string; limit?: number; cursor?: string }): Promise<JobPage>;
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

const terminalEvents = new Set(["job.completed", "job.discarded", "job.cancelled", "job.expired"]);
const terminalStates = new Set(["completed", "discarded", "cancelled"]);

/** Whether an event ends a job's live stream. */
export function endsStream(e: JobEvent): boolean {
  return terminalEvents.has(e.type) || (e.type === "job.state" && terminalStates.has(e.data.state ?? ""));
}
