/**
 * Running one handler: with the job's execution timeout and a cancel signal, and turning whatever it
 * throws into an error record (code, type, message, retryable). A job with trace context runs inside
 * a span that continues its trace.
 */
import type { SpanOutcome } from "../core/tracing.js";
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

export async function runHandler(
  handler: (job: JobContext) => unknown,
  job: Omit<JobContext, "signal">,
  o: { timeoutMs?: number | undefined; cancel: AbortController },
): Promise<HandlerOutcome> {
  const signals: AbortSignal[] = [o.cancel.signal];
  if (o.timeoutMs !== undefined) signals.push(AbortSignal.timeout(o.timeoutMs));
  const signal = signals.length === 1 ? signals[0]! : AbortSignal.any(signals);
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<"timeout">((res) => {
    if (o.timeoutMs !== undefined) timer = setTimeout(() => res("timeout"), o.timeoutMs);
  });
  const cancelled = new Promise<"cancelled">((res) => {
    if (o.cancel.signal.aborted) res("cancelled");
    else o.cancel.signal.addEventListener("abort", () => res("cancelled"), { once: true });
  });
  try {
    const work = Promise.resolve().then(() => handler({ ...job, signal }));
    const r = await Promise.race([work.then((result) => ({ result })), timedOut, cancelled]);
    if (r === "timeout") {
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
    if (r === "cancelled") {
      const reason: unknown = o.cancel.signal.reason;
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
    return { ok: true, result: r.result };
  } catch (err) {
    return { ok: false, error: describe(err), cancelled: false, thrown: err };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * {@link runHandler} inside a consumer span `job <type>` whose parent is the job's `traceparent`, so
 * the handler's active span continues the trace of the request that created the job. The span ends
 * with the attempt: status ERROR and the exception when it failed.
 */
export function runHandlerInTrace(
  handler: (job: JobContext) => unknown,
  job: Omit<JobContext, "signal">,
  o: {
    timeoutMs?: number | undefined;
    cancel: AbortController;
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
  if (err instanceof JobFailure) {
    const e: ReturnType<typeof describe> = {
      code: err.code,
      type: err.code,
      message: err.message,
      retryable: err.retryable,
    };
    if (err.details !== undefined) e.details = err.details;
    return e;
  }
  if (err instanceof Error)
    return { code: "handler_error", type: err.name, message: err.message || err.name };
  return { code: "handler_error", message: String(err) };
}
