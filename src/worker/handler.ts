/**
 * Running one handler: with the job's execution timeout and a cancel signal, and turning whatever it
 * throws into an error record (code, type, message, retryable). A job with trace context runs inside
 * a span that continues its trace.
 */
import type { SpanOutcome } from "../core/tracing.js";
import type { ProgressUpdate } from "../store/jobs/progress.js";
import { runInTraceContext } from "../core/tracing.js";
import type { JobContext } from "./types.js";
import { JobFailure } from "./types.js";

export type HandlerOutcome =
  | { ok: true; result: unknown }
  | {
      ok: false;
      error: {
        code: string;
        type?: string;
        message: string;
        retryable?: boolean;
        details?: Record<string, unknown>;
      };
      /** The job was cancelled while running: its cancel is already recorded, nothing to write. */
      cancelled: boolean;
      /** What the handler threw (for tracing: the span records the exception itself). */
      thrown?: unknown;
    };

/**
 * How a running job is stopped early (cancelled, or the worker is forced to stop). The handler's
 * AbortSignal is made only if the handler asks for it: most never do, and an AbortController per job
 * is a measurable cost on the hot path.
 */
export interface JobCancel {
  cancelled: boolean;
  reason: unknown;
  controller: AbortController | undefined;
  /** Set while the handler's promise is awaited: ends the wait at once. */
  notify: (() => void) | undefined;
}

export function newJobCancel(): JobCancel {
  return { cancelled: false, reason: undefined, controller: undefined, notify: undefined };
}

/** Stops a running job: aborts its signal (if made) and ends the wait for its handler. */
export function cancelRunning(c: JobCancel, reason: unknown): void {
  if (c.cancelled) return;
  c.cancelled = true;
  c.reason = reason;
  c.controller?.abort(reason);
  c.notify?.();
}

/** The job's AbortSignal, made on first use. */
export function signalOf(c: JobCancel): AbortSignal {
  if (!c.controller) {
    c.controller = new AbortController();
    if (c.cancelled) c.controller.abort(c.reason);
  }
  return c.controller.signal;
}

/**
 * The job a handler gets. A class (not an object literal with a getter) because it is made for every
 * job: `signal` is a prototype getter that makes the AbortSignal only when the handler asks for it.
 */
export class HandlerJob implements JobContext {
  declare parent_results?: unknown[];
  declare parentResults?: unknown[];
  declare traceparent?: string;
  readonly #cancel: JobCancel;
  /** Where `progress()` reports go (set by {@link HandlerJob.attach}); its state made on first use. */
  #target: ProgressTarget | undefined;
  #progress: ProgressThrottle | undefined;
  constructor(
    cancel: JobCancel,
    public id: string,
    public type: string,
    public queue: string,
    public args: unknown[],
    public attempt: number,
    public maxAttempts: number,
    public priority: number,
    public meta: Record<string, unknown>,
    public createdAt: Date,
  ) {
    this.#cancel = cancel;
  }
  get signal(): AbortSignal {
    return signalOf(this.#cancel);
  }
  // Job fields by their API names, the same as on jobs read through the client (getters on the
  // prototype, so the per-job object stays as small as before).
  get max_attempts(): number {
    return this.maxAttempts;
  }
  get created_at(): string {
    return this.createdAt.toISOString();
  }
  /** Makes `progress()` report for this attempt, as `target.workerId`. */
  attach(target: ProgressTarget): this {
    this.#target = target;
    return this;
  }
  progress(value: number, message?: string, data?: Record<string, unknown>): Promise<void> {
    const target = this.#target;
    if (target === undefined) return Promise.resolve();
    const update: ProgressUpdate = { progress: value };
    if (message !== undefined) update.message = message;
    if (data !== undefined) update.data = data;
    this.#progress ??= new ProgressThrottle((u) => target.send(this.id, this.attempt, u));
    return this.#progress.offer(update);
  }
}

/** Sends a job's progress report for one attempt (execute.ts binds it to the job's segment). */
export interface ProgressTarget {
  send(jobId: string, attempt: number, update: ProgressUpdate): Promise<void>;
}

/** Least time between two progress reports of a job (ojs-progress §6.2). */
export const PROGRESS_INTERVAL_MS = 1000;

/**
 * At most one report per {@link PROGRESS_INTERVAL_MS}: a report that comes sooner waits for the
 * interval to end and is replaced by any later one (the latest value is the one sent). Failures are
 * swallowed: progress is best effort and must never fail the job (ojs-progress §4).
 */
class ProgressThrottle {
  #lastSentAt = -Infinity;
  #pending: ProgressUpdate | undefined;
  #waiting: Promise<void> | undefined;
  constructor(readonly send: (u: ProgressUpdate) => Promise<void>) {}

  offer(u: ProgressUpdate): Promise<void> {
    // Message and data given earlier in the interval survive a later value-only report.
    this.#pending = this.#pending === undefined ? u : { ...this.#pending, ...u };
    if (this.#waiting !== undefined) return this.#waiting;
    const wait = this.#lastSentAt + PROGRESS_INTERVAL_MS - Date.now();
    if (wait <= 0) return this.#flush();
    const waiting = new Promise<void>((resolve) => {
      // unref: a pending report never keeps the process alive on its own.
      setTimeout(() => resolve(this.#flush()), wait).unref();
    });
    this.#waiting = waiting;
    return waiting;
  }

  async #flush(): Promise<void> {
    const u = this.#pending;
    this.#pending = undefined;
    this.#waiting = undefined;
    this.#lastSentAt = Date.now();
    if (u === undefined) return;
    try {
      await this.send(u);
    } catch {
      // best effort (see above)
    }
  }
}

const TIMEOUT = Symbol("timeout");
const CANCELLED = Symbol("cancelled");

/**
 * Runs `handler` with the job (whose `signal` comes from {@link signalOf} on `o.cancel`). A handler
 * that returns a plain value costs no promise, timer or signal; one that returns a promise is raced
 * against the execution timeout and a cancel.
 */
export async function runHandler(
  handler: (job: JobContext) => unknown,
  job: JobContext,
  o: { timeoutMs?: number | undefined; cancel: JobCancel },
): Promise<HandlerOutcome> {
  let timer: NodeJS.Timeout | undefined;
  try {
    if (o.cancel.cancelled) return cancelledOutcome(o.cancel.reason);
    const value = handler(job);
    if (!isThenable(value)) return { ok: true, result: value };
    const r = await new Promise<{ result: unknown } | typeof TIMEOUT | typeof CANCELLED>(
      (resolve, reject) => {
        o.cancel.notify = () => resolve(CANCELLED);
        if (o.timeoutMs !== undefined) {
          timer = setTimeout(() => {
            if (!o.cancel.controller) o.cancel.controller = new AbortController();
            o.cancel.controller.abort(new DOMException("The operation timed out.", "TimeoutError"));
            resolve(TIMEOUT);
          }, o.timeoutMs);
        }
        value.then((result) => resolve({ result }), reject);
      },
    );
    if (r === TIMEOUT) {
      return {
        ok: false,
        error: {
          code: "timeout",
          type: "timeout",
          message: `execution timeout of ${o.timeoutMs} ms exceeded`,
          retryable: true,
        },
        cancelled: false,
      };
    }
    if (r === CANCELLED) return cancelledOutcome(o.cancel.reason);
    return { ok: true, result: r.result };
  } catch (err) {
    return { ok: false, error: describe(err), cancelled: false, thrown: err };
  } finally {
    clearTimeout(timer);
    o.cancel.notify = undefined;
  }
}

function cancelledOutcome(reason: unknown): HandlerOutcome {
  const shutdown = reason instanceof Error && reason.name === "ShutdownError";
  return {
    ok: false,
    error: {
      code: shutdown ? "worker_shutdown" : "cancelled",
      message: shutdown ? "the worker stopped" : "the job was cancelled",
    },
    cancelled: !shutdown,
  };
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return (
    v !== null &&
    (typeof v === "object" || typeof v === "function") &&
    typeof (v as { then?: unknown }).then === "function"
  );
}

/**
 * {@link runHandler} inside a consumer span `job <type>` whose parent is the job's `traceparent`, so
 * the handler's active span continues the trace of the request that created the job. The span ends
 * with the attempt: status ERROR and the exception when it failed.
 */
export function runHandlerInTrace(
  handler: (job: JobContext) => unknown,
  job: JobContext,
  o: {
    timeoutMs?: number | undefined;
    cancel: JobCancel;
    traceparent: string;
    tracestate?: string | undefined;
  },
): Promise<HandlerOutcome> {
  return runInTraceContext(
    o.traceparent,
    `job ${job.type}`,
    {
      "jetjob.job_id": job.id,
      "jetjob.job_type": job.type,
      "jetjob.queue": job.queue,
      "jetjob.attempt": job.attempt,
    },
    () => runHandler(handler, job, o),
    { tracestate: o.tracestate, outcome: spanOutcome },
  );
}

function spanOutcome(r: HandlerOutcome): SpanOutcome {
  if (r.ok) return { attributes: { "jetjob.outcome": "completed" } };
  if (r.cancelled) return { attributes: { "jetjob.outcome": "cancelled" } };
  return {
    attributes: { "jetjob.outcome": "failed", "jetjob.error_code": r.error.code },
    error: { exception: r.thrown ?? r.error, message: r.error.message },
  };
}

function describe(err: unknown): {
  code: string;
  type?: string;
  message: string;
  retryable?: boolean;
  details?: Record<string, unknown>;
} {
  try {
    if (err instanceof JobFailure) {
      const e: ReturnType<typeof describe> = {
        code: String(err.code),
        type: String(err.code),
        message: describeValue(err),
        retryable: err.retryable === true,
      };
      if (err.details !== undefined) e.details = err.details;
      return e;
    }
    if (err instanceof Error)
      return { code: "handler_error", type: String(err.name), message: describeValue(err) };
  } catch {
    // an Error whose fields throw: described as a value below
  }
  return { code: "handler_error", message: describeValue(err) };
}

/** A short text for any thrown value, never throwing (an object whose `toString` throws, say). */
export function describeValue(v: unknown): string {
  try {
    if (v instanceof Error) return String(v.message || v.name);
    if (typeof v === "string") return v;
    if (v === null || (typeof v !== "object" && typeof v !== "function")) return String(v);
    const json = JSON.stringify(v);
    if (json !== undefined && json !== "{}") return json.length > 500 ? `${json.slice(0, 500)}…` : json;
  } catch {
    // fall through to the type tag
  }
  try {
    return Object.prototype.toString.call(v);
  } catch {
    return "a value that cannot be described";
  }
}
