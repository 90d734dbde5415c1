/**
 * The operations behind the client SDK, as one interface with two implementations: over the HTTP API
 * and straight over NATS (the same store functions the API server calls).
 */
import type { Job } from "./types.js";

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

export interface QueueStats {
  name: string;
  paused: boolean;
  available: number;
  active: number;
  completed: number;
  discarded: number;
  cancelled: number;
  retried: number;
  expired: number;
  rate_limit_per_second?: number;
  approximate?: boolean;
  /** Exclusive keys held by this queue's jobs, and its jobs waiting for a key (when there are any). */
  exclusive?: { keys_held: number; jobs_waiting: number };
}

export interface QueueConfig {
  name: string;
  paused: boolean;
  rate_limit_per_second?: number;
  exclusive_key_template?: string;
}

/** An exclusive key that is held or has waiting jobs. */
export interface ExclusiveKeyInfo {
  key: string;
  holder: { job_id: string; queue: string; since: string; state?: string; worker_id?: string } | null;
  waiting: number;
  waiting_capped?: boolean;
  waiting_by_queue: Record<string, number>;
}

/** A lock as anyone sees it. */
export interface LockInfo {
  name: string;
  owner?: string;
  fencing_token: number;
  acquired_at: string;
  expires_at: string;
}

/** A lock as its holder sees it: `token` renews and releases it. */
export interface LockGrantInfo extends LockInfo {
  token: string;
}

export interface DeadLetterPage {
  jobs: Job[];
  total: number;
}

export interface CronInfo {
  name: string;
  expression: string;
  timezone: string;
  overlap_policy: string;
  enabled: boolean;
  job_template: Record<string, unknown>;
  created_at: string;
  next_run_at?: string;
  last_run_at?: string;
  last_job_id?: string;
}

export interface WorkflowInfo {
  id: string;
  name?: string;
  type: "chain" | "group" | "batch";
  state: "running" | "completed" | "failed" | "cancelled";
  created_at: string;
  completed_at?: string;
  steps_total?: number;
  steps_completed?: number;
  jobs_total?: number;
  jobs_completed?: number;
  jobs_failed?: number;
  job_ids: string[];
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
    configure(name: string, change: { exclusive_key_template?: string | null }): Promise<QueueConfig>;
  };
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
