/**
 * Running one job of a held segment: the queue's rate limit, its handler (inside its trace, with its
 * execution timeout and cancel signal), and turning what the handler returned or threw into an
 * outcome that can be stored. Never rejects: whatever a handler does (returns a BigInt or a circular
 * object, throws `Object.create(null)` or an object whose `toString` throws), the worker records a
 * failed attempt with a clear error and carries on.
 */
import type { StoreContext } from "../store/infra/context.js";
import { takeRateToken } from "../store/queues/limits.js";
import { oversizedResult } from "../store/jobs/payload-limits.js";
import { reportOwnProgress } from "../store/jobs/progress-report.js";
import type { SegmentAt } from "../store/segments/segment.js";
import { jobIdAt } from "../store/segments/segment.js";
import { retryPolicyOf } from "../store/jobs/view.js";
import type { HandlerOutcome, JobCancel } from "./handler.js";
import { HandlerJob, describeValue, runHandler, runHandlerInTrace } from "./handler.js";
import type { JobContext } from "./types.js";

export type Handlers = Record<string, ((job: JobContext) => unknown) | undefined>;

/**
 * Runs job `i` of `at` for attempt `a`; resolves with its outcome, never rejects. A result still has
 * to pass {@link storableOutcome}. A job without rate limit or trace context goes straight to its
 * handler (the hot path: no extra promise on the way).
 */
export function executeJob(
  ctx: StoreContext,
  handlers: Handlers,
  workerId: string,
  at: SegmentAt,
  i: number,
  a: number,
  cancel: JobCancel,
): Promise<HandlerOutcome> {
  try {
    const spec = at.seg.jobs[i]!;
    const handler = handlers[spec.type];
    if (
      !handler ||
      spec.traceparent !== undefined ||
      ctx.queues.cached(at.seg.q)?.rateLimitPerSecond !== undefined
    )
      return executeSlowly(ctx, handler, workerId, at, i, a, cancel);
    return runHandler(handler, handlerJob(ctx, workerId, at, i, a, cancel), {
      timeoutMs: spec.timeoutMs,
      cancel,
    });
  } catch (err) {
    return Promise.resolve(workerError(err));
  }
}

function handlerJob(
  ctx: StoreContext,
  workerId: string,
  at: SegmentAt,
  i: number,
  a: number,
  cancel: JobCancel,
): HandlerJob {
  const spec = at.seg.jobs[i]!;
  const job = new HandlerJob(
    cancel,
    jobIdAt(at, i),
    spec.type,
    at.seg.q,
    spec.args,
    a,
    retryPolicyOf(spec).maxAttempts,
    at.seg.p,
    spec.meta ?? {},
    new Date(spec.createdAt ?? at.seg.ts),
  );
  if (spec.parentResults !== undefined) job.parent_results = job.parentResults = spec.parentResults;
  if (spec.traceparent !== undefined) job.traceparent = spec.traceparent;
  // job.progress() writes the attempt's progress over NATS (store/jobs/progress-report.ts).
  return job.attach({
    send: (id, attempt, update) => reportOwnProgress(ctx, at, i, id, attempt, update, workerId),
  });
}

function workerError(err: unknown): HandlerOutcome {
  // Not the handler (runHandler catches what it throws): something around it failed.
  return {
    ok: false,
    error: { code: "worker_error", message: `the worker could not run the job: ${describeValue(err)}` },
    cancelled: false,
  };
}

/** A missing handler, a rate-limited queue or a job with trace context. */
async function executeSlowly(
  ctx: StoreContext,
  handler: Handlers[string],
  workerId: string,
  at: SegmentAt,
  i: number,
  a: number,
  cancel: JobCancel,
): Promise<HandlerOutcome> {
  try {
    const spec = at.seg.jobs[i]!;
    if (!handler) {
      return {
        ok: false,
        error: {
          code: "unknown_job_type",
          message: `no handler for job type '${spec.type}' on worker ${workerId}`,
          retryable: false,
        },
        cancelled: false,
      };
    }
    const perSecond = ctx.queues.cached(at.seg.q)?.rateLimitPerSecond;
    if (perSecond !== undefined) {
      // Rate-limited queue: wait for a start slot shared with every other worker and fetcher.
      for (;;) {
        const wait = await takeRateToken(ctx.buckets.limits, at.seg.q, perSecond).catch(() => 1000);
        if (wait === 0 || cancel.cancelled) break;
        await new Promise((r) => setTimeout(r, Math.min(wait, 1000)));
      }
    }
    const job = handlerJob(ctx, workerId, at, i, a, cancel);
    const traceparent = spec.traceparent;
    // Only jobs with trace context get a span: the others run exactly as on the hot path.
    return traceparent === undefined
      ? await runHandler(handler, job, { timeoutMs: spec.timeoutMs, cancel })
      : await runHandlerInTrace(handler, job, {
          timeoutMs: spec.timeoutMs,
          cancel,
          traceparent,
          tracestate: spec.tracestate,
        });
  } catch (err) {
    return workerError(err);
  }
}

/**
 * A handler's result as it can be stored, or the failure to record instead: a result that is not
 * JSON (a BigInt, a circular object, a `toJSON` that throws) fails the attempt with
 * `result_not_serializable`, one over the payload limit with `payload_too_large`. Neither is retryable
 * on its own account (the handler would return the same); the retry policy still applies to others.
 */
export function storableOutcome(ctx: StoreContext, result: unknown): HandlerOutcome {
  try {
    const tooLarge = oversizedResult(ctx.limits, result);
    if (tooLarge) return { ok: false, error: tooLarge, cancelled: false };
  } catch (err) {
    return {
      ok: false,
      error: {
        code: "result_not_serializable",
        message: `the handler's result cannot be stored as JSON: ${describeValue(err)}`,
        retryable: false,
      },
      cancelled: false,
    };
  }
  return { ok: true, result };
}
