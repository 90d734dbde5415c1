/**
 * SDK options → the OJS enqueue request body. Both client transports (HTTP and NATS) send this same
 * body through the same validation, so a job means the same thing whichever way it was enqueued.
 */
import { formatIsoDuration } from "../core/time.js";
import type { TraceContext } from "../core/tracing.js";
import type { EnqueueOptions, RetryOptions } from "./types.js";

export function toEnqueueBody(
  type: string,
  args: unknown[],
  o: EnqueueOptions = {},
): Record<string, unknown> {
  const options: Record<string, unknown> = {};
  if (o.queue !== undefined) options.queue = o.queue;
  if (o.priority !== undefined) options.priority = o.priority;
  if (o.timeoutMs !== undefined) options.timeout_ms = o.timeoutMs;
  if (o.runAt !== undefined) options.scheduled_at = o.runAt.toISOString();
  else if (o.delayMs !== undefined && o.delayMs > 0)
    options.scheduled_at = new Date(Date.now() + o.delayMs).toISOString();
  if (o.expiresAt !== undefined) options.expires_at = o.expiresAt.toISOString();
  if (o.retry !== undefined) options.retry = retryToWire(o.retry);
  if (o.tags !== undefined) options.tags = o.tags;
  if (o.visibilityTimeoutMs !== undefined) options.visibility_timeout_ms = o.visibilityTimeoutMs;
  if (o.rateLimitPerSecond !== undefined) options.rate_limit = { max_per_second: o.rateLimitPerSecond };
  if (o.exclusiveKey !== undefined) options.exclusive_key = o.exclusiveKey;
  if (o.retention !== undefined) {
    const r: Record<string, number> = {};
    if (o.retention.completedMs !== undefined) r.completed_ms = o.retention.completedMs;
    if (o.retention.discardedMs !== undefined) r.discarded_ms = o.retention.discardedMs;
    if (o.retention.deadLetterMs !== undefined) r.dead_letter_ms = o.retention.deadLetterMs;
    options.retention = r;
  }
  if (o.unique !== undefined) {
    const u: Record<string, unknown> = {};
    if (o.unique.keys !== undefined) u.keys = o.unique.keys;
    if (o.unique.argsKeys !== undefined) u.args_keys = o.unique.argsKeys;
    if (o.unique.metaKeys !== undefined) u.meta_keys = o.unique.metaKeys;
    if (o.unique.onConflict !== undefined) u.on_conflict = o.unique.onConflict;
    if (o.unique.periodMs !== undefined) u.period = formatIsoDuration(o.unique.periodMs);
    if (o.unique.states !== undefined) u.states = o.unique.states;
    options.unique = u;
  }
  const body: Record<string, unknown> = { type, args };
  if (o.id !== undefined) body.id = o.id;
  if (o.meta !== undefined) body.meta = o.meta;
  if (o.traceparent !== undefined) {
    body.traceparent = o.traceparent;
    if (o.tracestate !== undefined) body.tracestate = o.tracestate;
  }
  if (Object.keys(options).length > 0) body.options = options;
  return body;
}

/** Adds the caller's trace context to an enqueue body that has none of its own. */
export function withTraceContext(
  body: Record<string, unknown>,
  tc: TraceContext | undefined,
): Record<string, unknown> {
  if (tc === undefined || body.traceparent !== undefined) return body;
  body.traceparent = tc.traceparent;
  if (tc.tracestate !== undefined) body.tracestate = tc.tracestate;
  return body;
}

export function retryToWire(r: RetryOptions): Record<string, unknown> {
  const w: Record<string, unknown> = {};
  if (r.maxAttempts !== undefined) w.max_attempts = r.maxAttempts;
  if (r.initialIntervalMs !== undefined) w.initial_interval = formatIsoDuration(r.initialIntervalMs);
  if (r.backoffCoefficient !== undefined) w.backoff_coefficient = r.backoffCoefficient;
  if (r.maxIntervalMs !== undefined) w.max_interval = formatIsoDuration(r.maxIntervalMs);
  if (r.jitter !== undefined) w.jitter = r.jitter;
  if (r.nonRetryableErrors !== undefined) w.non_retryable_errors = r.nonRetryableErrors;
  if (r.onExhaustion !== undefined) w.on_exhaustion = r.onExhaustion;
  if (r.strategy !== undefined) w.backoff_strategy = r.strategy;
  return w;
}
