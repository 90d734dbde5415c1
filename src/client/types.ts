/**
 * Types of the client SDK: the job as returned by the API (OJS wire shape) and the enqueue options.
 */
import type { ArgsOf, JobTypeEntry, JobTypes, ResultOf } from "../core/job-types.js";
import type { JobState } from "../core/states.js";

/** The job and its recorded failures: one type for the API server, the store and the client (core/job.ts). */
export type { Job, JobError } from "../core/job.js";

/** Retry policy in SDK form (milliseconds). */
export interface RetryOptions {
  /** Total executions including the first. @defaultValue 3 */
  maxAttempts?: number;
  /** @defaultValue 1000 */
  initialIntervalMs?: number;
  /** @defaultValue 2 */
  backoffCoefficient?: number;
  /** @defaultValue 300000 */
  maxIntervalMs?: number;
  /** @defaultValue true */
  jitter?: boolean;
  /** Error codes/types (anchored regular expressions) never retried. */
  nonRetryableErrors?: string[];
  /** @defaultValue "discard" */
  onExhaustion?: "discard" | "dead_letter";
  /** @defaultValue "exponential" */
  strategy?: "exponential" | "linear" | "constant";
}

export interface EnqueueOptions {
  /** @defaultValue "default" */
  queue?: string;
  /** -100 (lowest) … 100 (highest). @defaultValue 0 */
  priority?: number;
  /** A lowercase UUIDv7 chosen by you; enqueueing the same id twice fails with `duplicate`. */
  id?: string;
  /** Run no earlier than this many milliseconds from now. */
  delayMs?: number;
  /** Run no earlier than this time. */
  runAt?: Date;
  /** Drop the job if it has not started by this time. */
  expiresAt?: Date;
  /** Execution timeout of one attempt. */
  timeoutMs?: number;
  retry?: RetryOptions;
  meta?: Record<string, unknown>;
  tags?: string[];
  /** How long an HTTP worker may hold the job without a heartbeat. @defaultValue 30000 */
  visibilityTimeoutMs?: number;
  /** At most one such job at a time: see {@link UniqueOptions}. */
  unique?: UniqueOptions;
  /** Sets the queue's rate limit (jobs started per second, across all workers). */
  rateLimitPerSecond?: number;
  /**
   * At most one job with this key is active at a time across the whole system; later ones wait in
   * enqueue order and start as soon as the key is free. Jobs with different keys run in parallel.
   */
  exclusiveKey?: string;
  /**
   * W3C trace context for the job (`00-<trace id>-<span id>-<flags>`); its handler runs in a span
   * continuing that trace. An invalid value is ignored. @defaultValue the caller's active
   * OpenTelemetry context, if there is one (`enqueue` and `enqueueMany`)
   */
  traceparent?: string;
  /** W3C tracestate sent with {@link traceparent}. */
  tracestate?: string;
  /**
   * How long the job is kept after it finished (then housekeeping removes it). Overrides the queue's
   * retention and the server's defaults (completed 24 h, discarded and dead letters 7 days).
   */
  retention?: RetentionOptions;
}

/** Per-job retention, in milliseconds after the job finished (docs/retention.md). */
export interface RetentionOptions {
  completedMs?: number;
  /** Discarded, cancelled or expired. */
  discardedMs?: number;
  deadLetterMs?: number;
}

/** A queue's retention: ages in milliseconds, and how many finished jobs to keep (approximate). */
export interface QueueRetentionOptions extends RetentionOptions {
  completedCount?: number;
  /** Discarded, cancelled or expired (dead letters are always kept their whole age). */
  discardedCount?: number;
}

/** Unique jobs: a new job that matches an unfinished one on `keys` is rejected, ignored, or replaces it. */
export interface UniqueOptions {
  /** Fields that make two jobs "the same". @defaultValue ["type", "args"] */
  keys?: Array<"type" | "args" | "queue" | "meta">;
  /** @defaultValue "reject" (the enqueue fails with a `duplicate` error) */
  onConflict?: "reject" | "ignore" | "replace";
  /** With `args` in `keys`: only these keys of the (single) args object count, e.g. `["userId"]`. */
  argsKeys?: string[];
  /** With `meta` in `keys`: only these keys of meta count. */
  metaKeys?: string[];
  /** The key is held at most this long. */
  periodMs?: number;
  /** States in which an existing job blocks a new one. @defaultValue unfinished states */
  states?: JobState[];
}

/** Maps job types to their arguments and results (core/job-types.ts; shared with the worker SDK). */
export type { ArgsOf, JobTypeEntry, JobTypes, ResultOf };
