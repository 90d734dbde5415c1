/**
 * Types of the worker SDK: options, the context a handler receives, and the error a handler throws
 * to control retries.
 */
import type { NatsConnection } from "@nats-io/nats-core";

import type { ArgsOf, JobTypes, ResultOf } from "../core/job-types.js";
import type { Logger } from "../core/logger.js";
import type { ConnectOptions } from "../nats/connect.js";
import type { TopologyOptions } from "../store/infra/topology.js";

/** What a handler gets: the job and a signal that fires on cancel, timeout or forced shutdown. */
export interface JobContext<A extends unknown[] = unknown[]> {
  id: string;
  type: string;
  queue: string;
  args: A;
  /** 1 on the first attempt. */
  attempt: number;
  /** Attempts the job may use in all (its retry policy's `maxAttempts`). */
  max_attempts: number;
  priority: number;
  meta: Record<string, unknown>;
  /** When the job was created (ISO 8601), as `created_at` of a job read through the client. */
  created_at: string;
  /** Results of the earlier steps, for a step of a chain workflow. */
  parent_results?: unknown[];
  /** @deprecated Use `max_attempts` (job fields have their API names, as on the client's jobs). */
  maxAttempts: number;
  /** @deprecated Use `created_at` (an ISO string); this is the same instant as a Date. */
  createdAt: Date;
  /** @deprecated Use `parent_results`. */
  parentResults?: unknown[];
  /**
   * W3C trace context of the request that created the job, when it had one. The handler then runs
   * inside a span continuing that trace (`trace.getActiveSpan()`, with an OpenTelemetry SDK).
   */
  traceparent?: string;
  /**
   * Reports how far the job has got (OJS progress extension): `value` is a fraction from 0 to 1
   * (clamped; it never goes down within an attempt), with an optional message and small data object
   * (at most 4 KB of JSON). Shown by `GET /ojs/v1/jobs/{id}/progress`, the job view, `jetjob job get`
   * and the dashboard. Sent over NATS, at most once a second per job: calls in between only replace
   * the value sent next. Best effort: it never throws and a failed report does not affect the job;
   * the promise settles once the report was sent or merged into the next one.
   */
  progress(value: number, message?: string, data?: Record<string, unknown>): Promise<void>;
  /**
   * Aborted when the job is cancelled, its `timeout_ms` passes, or the worker is forced to stop. Made
   * on first use (a getter), so a copy made with `{ ...job }` does not carry it: pass `job.signal`.
   */
  signal: AbortSignal;
}

export type Handler<A extends unknown[] = unknown[], R = unknown> = (job: JobContext<A>) => Promise<R> | R;

/**
 * Handlers by job type, typed from the job-type map: each gets its type's arguments and must return
 * its type's result, when the map gives one (core/job-types.ts).
 */
export type Handlers<T extends JobTypes> = { [K in keyof T]?: Handler<ArgsOf<T[K]>, ResultOf<T[K]>> };

export interface WorkerOptions<T extends JobTypes = JobTypes> {
  /** NATS URL or an open connection. */
  nats: string | NatsConnection;
  /** Credentials, TLS and the per-attempt `timeoutMs`, for a `nats` URL. */
  natsOptions?: Omit<ConnectOptions, "servers" | "waitOnFirstConnect">;
  /**
   * With a `nats` URL: how long to keep trying to connect. Each failed attempt is retried; the first
   * failure logs a warning (and emits `error` if there are listeners); when this much time has passed
   * without a connection, `ready` rejects with a `JetjobError` whose code is `nats_unreachable` (also
   * logged and emitted as `error`). `Infinity` waits for NATS forever. @defaultValue 10000
   */
  connectTimeoutMs?: number;
  /** Queues to take jobs from. @defaultValue ["default"] */
  queues?: string[];
  handlers: Handlers<T>;
  /**
   * Jobs run at the same time. With several queues, each queue keeps at least one slot: one queue's
   * jobs hold at most `concurrency - (queues - 1)`, so a queue whose handlers hang (no `timeout_ms`)
   * cannot starve the others. @defaultValue 10
   */
  concurrency?: number;
  /**
   * Jobs a worker may hold beyond those it runs (taken with a segment, started as slots free up).
   * Jobs beyond it go straight back for other workers. @defaultValue 1024 (a whole segment)
   */
  prefetch?: number;
  /**
   * A held job that has waited this long for a free slot is handed back so an idle worker can take
   * it (long jobs spread over workers; fast jobs never wait that long). @defaultValue 1000
   */
  rebalanceAfterMs?: number;
  /**
   * A job of a type this worker has no handler for is handed back for other workers without using an
   * attempt (its view shows `unhandled`); only when no worker has taken it for this long is it failed
   * with `unknown_job_type`. @defaultValue 3600000 (1 hour)
   */
  unhandledJobTimeoutMs?: number;
  /**
   * How often the worker refreshes its entry in the worker registry (queues, running jobs; listed by
   * `jetjob worker list` and `GET /api/v1/workers`). It counts as offline after three missed beats.
   * @defaultValue 5000
   */
  heartbeatMs?: number;
  /** Shown in claims, events, the worker registry and the job's `worker_id`. @defaultValue a random id */
  workerId?: string;
  topology?: TopologyOptions;
  /** Aborting it drains the worker (same as `close()`). */
  signal?: AbortSignal;
  /** Drain on SIGTERM and SIGINT. @defaultValue true */
  handleSignals?: boolean;
  /** How long `close()` waits for running jobs before aborting them and giving them back. @defaultValue 30000 */
  shutdownTimeoutMs?: number;
  logger?: Logger;
  /**
   * Log in to NATS as this worker identity instead of the shared full-rights login
   * (docs/security.md, "Queue workers as identities"). The worker then touches no stream, consumer or
   * bucket: it takes and reports jobs through the API servers' relay, only on the queues an operator
   * granted it (`jetjob agent accept worker:<name> --queue <queue>`). Until then it keeps asking.
   * @defaultValue undefined (the shared login, NATS-direct)
   */
  identity?: WorkerIdentityOptions;
}

/** A worker's own NATS identity (see {@link WorkerOptions.identity}). */
export interface WorkerIdentityOptions {
  /** Its name (letters, digits, `.`, `_`, `-`): it logs in as `worker:<name>`. */
  name: string;
  /** Its secret (at least 16 characters); else the one in `file`. */
  secret?: string;
  /**
   * The identity file holding its secret, made (mode 0600) on first use.
   * @defaultValue `<JETJOB_DATA_DIR or .jetjob>/worker-<name>.identity.json`
   */
  file?: string;
  /**
   * `agent`: `nats` is an open connection of agent `name` (its `--queue` worker), which uses the
   * queues granted to that agent. @defaultValue "worker"
   */
  kind?: "worker" | "agent";
}

/** Throw from a handler to control how the failure is recorded and whether it is retried. */
export class JobFailure extends Error {
  override name = "JobFailure";
  readonly code: string;
  readonly retryable: boolean;
  readonly details: Record<string, unknown> | undefined;
  constructor(
    message: string,
    options: { code?: string; retryable?: boolean; details?: Record<string, unknown>; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = options.code ?? "handler_error";
    this.retryable = options.retryable ?? true;
    this.details = options.details;
  }
}

/** Counts of this worker's attempts; `completed` and `failed` count outcomes once they are stored. */
export interface WorkerStats {
  running: number;
  completed: number;
  failed: number;
  /**
   * Attempts whose outcome was not stored: the job was cancelled, or its lease ran out and another
   * worker took it, while the handler ran. The job's stored state is what the other party wrote.
   */
  lost: number;
  segmentsHeld: number;
}

/**
 * A worker's events. `job:complete` and `job:fail` come once the outcome is stored; `job:lost` when
 * it could not be, because the job was cancelled or taken over by another worker while it ran.
 */
export interface WorkerEvents {
  "job:start": [{ id: string; type: string; attempt: number }];
  "job:complete": [{ id: string; type: string; attempt: number; durationMs: number }];
  "job:fail": [{ id: string; type: string; attempt: number; error: string; retrying: boolean }];
  "job:lost": [{ id: string; type: string; attempt: number }];
  error: [Error];
}
