/**
 * A job as every door shows it: the OJS job object (snake_case wire names), built by the store
 * (store/jobs/view.ts), answered by the HTTP API and returned by the client SDK over either transport.
 */
import type { JobState } from "./states.js";

/** A recorded failure. */
export interface JobError {
  code: string;
  type: string;
  message: string;
  attempt: number;
  occurred_at: string;
  retryable?: boolean;
  details?: Record<string, unknown>;
}

/** A job as the API returns it (the OJS job object). */
export interface Job<A extends unknown[] = unknown[], R = unknown> {
  id: string;
  type: string;
  state: JobState;
  queue: string;
  args: A;
  priority: number;
  attempt: number;
  max_attempts: number;
  created_at: string;
  enqueued_at: string;
  /** The name of the API token that enqueued it (jobs enqueued over HTTP with auth on). */
  created_by?: string;
  meta?: Record<string, unknown>;
  timeout_ms?: number;
  started_at?: string;
  completed_at?: string;
  cancelled_at?: string;
  /** When a discarded job ended (the OJS name; dead letters carry it). */
  discarded_at?: string;
  scheduled_at?: string;
  expires_at?: string;
  result?: R;
  error?: JobError;
  errors?: JobError[];
  tags?: string[];
  retry_delay_ms?: number;
  next_attempt_at?: string;
  worker_id?: string;
  /** The job's exclusive key (given, or made from the queue's key template). */
  exclusive_key?: string;
  /** W3C trace context the job was enqueued with; its handler continues that trace. */
  traceparent?: string;
  tracestate?: string;
  /** Progress of the current attempt (0..1), when its handler reported any (OJS progress extension). */
  progress?: number | null;
  progress_message?: string;
  progress_data?: Record<string, unknown>;
  progress_updated_at?: string;
  [extension: string]: unknown;
}
