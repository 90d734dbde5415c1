/**
 * The OJS job object as clients see it, derived from a job's spec, its segment and its journal slot.
 * Time-driven changes (a lease or an execution timeout running out, `expires_at` passing) are derived
 * at read time, so reads are exact without a background process rewriting state on a timer.
 */
import { rateLimitKeyOf } from "../../core/rate-limit-policy.js";
import type { JobErrorRecord, JobSpec } from "../../core/envelope.js";
import type { Job, JobError } from "../../core/job.js";
import type { RetryPolicy } from "../../core/retry.js";
import { defaultRetryPolicy, willRetry } from "../../core/retry.js";
import type { JobState } from "../../core/states.js";
import { isTerminal, JobState as S } from "../../core/states.js";
import { formatIsoDuration, toRfc3339 } from "../../core/time.js";
import { Store } from "../../core/ids.js";
import type { Claim, Slot } from "../journal/fold.js";
import { isStarted } from "../journal/fold.js";
import type { SegmentAt } from "../segments/segment.js";
import { jobIdAt } from "../segments/segment.js";

/** What the journal and the clock say about a job at its current location. */
export interface Derived {
  state: JobState;
  attempt: number;
  startedAt?: number;
  completedAt?: number;
  cancelledAt?: number;
  result?: unknown;
  error?: JobErrorRecord;
  errors: JobErrorRecord[];
  retryDelayMs?: number;
  nextAttemptAt?: number;
  workerId?: string;
}

export function retryPolicyOf(spec: JobSpec): RetryPolicy {
  return spec.retry ?? defaultRetryPolicy();
}

/** An execution-timeout error for an HTTP-claimed job whose `timeout_ms` has passed. */
export function timeoutError(spec: JobSpec, attempt: number, atMs: number): JobErrorRecord {
  return {
    code: "timeout",
    type: "timeout",
    message: `execution timeout of ${spec.timeoutMs ?? 0} ms exceeded`,
    retryable: true,
    attempt,
    occurredAt: atMs,
  };
}

/** The error of an attempt lost with its worker. */
export function lostError(c: Pick<Claim, "a" | "w">, atMs: number): JobErrorRecord {
  return {
    code: "lease_expired",
    type: "lease_expired",
    message: `the lease of worker ${c.w} ran out before it reported the job's outcome (it stopped responding)`,
    retryable: true,
    attempt: c.a,
    occurredAt: atMs,
  };
}

/** The error records of a slot's lost attempts (for the job's error history). */
export function lostErrors(s: Slot): JobErrorRecord[] {
  return (s.lost ?? []).map((l) => lostError({ a: l.a, w: l.w }, l.at));
}

export function deriveState(at: SegmentAt, idx: number, slot: Slot, nowMs: number): Derived {
  const spec = at.seg.jobs[idx]!;
  const carried = slot.lost ? [...(spec.errors ?? []), ...lostErrors(slot)] : (spec.errors ?? []);
  const base = spec.attempt ?? 0;
  const c = slot.claim;
  // A NATS-direct worker's reservation is not an attempt until its handler starts.
  const reserved = c !== undefined && !isStarted(c) && !slot.outcome;
  const attempt = Math.max(base, reserved ? c.a - 1 : slot.lastAttempt);
  const d: Derived = { state: S.Available, attempt, errors: carried };
  const lastCarried = carried[carried.length - 1];
  if (lastCarried) d.error = lastCarried;
  if (spec.retryDelayMs !== undefined) d.retryDelayMs = spec.retryDelayMs;
  const o = slot.outcome;
  if (c && !reserved) {
    d.startedAt = c.st ?? (o?.kind === "done" || o?.kind === "fail" ? o.st : undefined) ?? c.at;
    d.workerId = c.w;
  }

  if (o) {
    switch (o.kind) {
      case "done":
        d.state = S.Completed;
        d.completedAt = o.at;
        if (o.res !== undefined) d.result = o.res;
        delete d.error;
        return d;
      case "fail":
        d.errors = [...carried, o.err];
        d.error = o.err;
        if (o.out === "discard") {
          d.state = S.Discarded;
          d.completedAt = o.at;
        } else {
          d.state = S.Retryable;
          if (o.delay !== undefined) d.retryDelayMs = o.delay;
          if (o.retryAt !== undefined) d.nextAttemptAt = o.retryAt;
        }
        return d;
      case "cancel":
        d.state = S.Cancelled;
        d.cancelledAt = o.at;
        return d;
      case "expire":
        d.state = S.Discarded;
        return d;
      case "move":
        d.state = S.Available;
        return d;
      case "gone":
        // Removed by housekeeping: lookups report such jobs as not found; shown finished if ever built.
        d.state = S.Discarded;
        return d;
    }
  }

  if (at.store === Store.Delay) {
    delete d.startedAt;
    delete d.workerId;
    // A job waiting for its exclusive key sits in a hold segment (no due time) until the key is free.
    // One waiting for its rate-limit key (core/rate-limit-policy.ts) is `available`: ojs-rate-limiting
    // §5.1 keeps a limited job available while it waits.
    const held = spec.xkey !== undefined && at.seg.due === undefined;
    if (held && !spec.pending && rateLimitKeyOf(spec.xkey!) !== undefined) d.state = S.Available;
    else if (spec.pending || held) d.state = S.Pending;
    else if (base > 0) {
      d.state = S.Retryable;
      if (at.seg.due !== undefined) d.nextAttemptAt = at.seg.due;
    } else d.state = S.Scheduled;
    if (spec.expiresAt !== undefined && nowMs > spec.expiresAt) d.state = S.Discarded;
    return d;
  }

  if (c && !reserved) {
    if (c.dl !== undefined && spec.timeoutMs !== undefined && nowMs > c.at + spec.timeoutMs) {
      // Execution timeout of an HTTP-claimed job: reported as a failed attempt until it is processed.
      const err = timeoutError(spec, c.a, c.at + spec.timeoutMs);
      d.errors = [...carried, err];
      d.error = err;
      const policy = retryPolicyOf(spec);
      d.state = willRetry(policy, c.a, err) ? S.Retryable : S.Discarded;
      if (d.state === S.Discarded) d.completedAt = c.at + spec.timeoutMs;
      return d;
    }
    if (c.dl !== undefined && nowMs > c.dl) {
      // The HTTP worker's visibility timeout ran out: the attempt is lost (store/segments/claims.ts). The job is
      // available again, or discarded when that was its last attempt.
      delete d.startedAt;
      delete d.workerId;
      const err = lostError(c, c.dl);
      d.errors = [...carried, err];
      d.error = err;
      if (c.a >= retryPolicyOf(spec).maxAttempts) {
        d.state = S.Discarded;
        d.completedAt = c.dl;
      } else if (spec.expiresAt !== undefined && nowMs > spec.expiresAt) d.state = S.Discarded;
      return d;
    }
    d.state = S.Active;
    return d;
  }
  delete d.startedAt;
  delete d.workerId;
  if (spec.expiresAt !== undefined && nowMs > spec.expiresAt) d.state = S.Discarded;
  return d;
}

/** The OJS job object: the one job type of the API and the client SDK (core/job.ts). */
export type JobView = Job;

/** Builds the OJS job object; unset fields are omitted, unknown request fields echoed. */
export function buildJobView(at: SegmentAt, idx: number, d: Derived): JobView {
  const spec = at.seg.jobs[idx]!;
  const policy = retryPolicyOf(spec);
  const createdAt = spec.createdAt ?? at.seg.ts;
  const v: JobView = {
    ...(spec.ext ?? {}),
    id: jobIdAt(at, idx),
    type: spec.type,
    state: d.state,
    queue: at.seg.q,
    args: spec.args,
    priority: at.seg.p,
    attempt: d.attempt,
    max_attempts: policy.maxAttempts,
    created_at: toRfc3339(createdAt),
    enqueued_at: toRfc3339(at.store === Store.Delay ? createdAt : at.seg.ts),
  };
  if (spec.meta !== undefined) v.meta = spec.meta;
  if (spec.traceparent !== undefined) {
    v.traceparent = spec.traceparent;
    if (spec.tracestate !== undefined) v.tracestate = spec.tracestate;
  }
  if (spec.timeoutMs !== undefined) v.timeout_ms = spec.timeoutMs;
  if (d.startedAt !== undefined) v.started_at = toRfc3339(d.startedAt);
  if (d.completedAt !== undefined) {
    v.completed_at = toRfc3339(d.completedAt);
    // The OJS name of a discarded job's end (http-binding §12.1: dead letters carry it).
    if (d.state === S.Discarded) v.discarded_at = v.completed_at;
  }
  if (d.cancelledAt !== undefined) v.cancelled_at = toRfc3339(d.cancelledAt);
  if (spec.scheduledAt !== undefined) v.scheduled_at = toRfc3339(spec.scheduledAt);
  if (spec.expiresAt !== undefined) v.expires_at = toRfc3339(spec.expiresAt);
  // A copy in its stored (JSON) form: folded states share their slots with the journal cache.
  const result = d.result === undefined ? undefined : JSON.stringify(d.result);
  if (result !== undefined) v.result = JSON.parse(result) as unknown;
  if (d.error !== undefined) v.error = errorView(d.error);
  if (d.errors.length > 0) v.errors = d.errors.map(errorView);
  if (spec.tags !== undefined) v.tags = spec.tags;
  if (spec.createdBy !== undefined) v.created_by = spec.createdBy;
  if (spec.retry !== undefined) v.retry = retryView(policy);
  if (spec.unique !== undefined) {
    const u: Record<string, unknown> = { keys: spec.unique.keys, on_conflict: spec.unique.onConflict };
    if (spec.unique.periodMs !== undefined) u.period = formatIsoDuration(spec.unique.periodMs);
    if (spec.unique.states !== undefined) u.states = spec.unique.states;
    v.unique = u;
  }
  if (d.retryDelayMs !== undefined) v.retry_delay_ms = d.retryDelayMs;
  if (d.nextAttemptAt !== undefined) v.next_attempt_at = toRfc3339(d.nextAttemptAt);
  if (spec.visibilityMs !== undefined) v.visibility_timeout_ms = spec.visibilityMs;
  if (spec.metadata !== undefined) v.metadata = spec.metadata;
  if (spec.parentResults !== undefined) v.parent_results = spec.parentResults;
  if (spec.workflow !== undefined) v.workflow_id = spec.workflow.id;
  if (spec.xkey !== undefined) v.exclusive_key = spec.xkey;
  if (spec.unhandled !== undefined && !isTerminal(d.state) && d.state !== S.Active) {
    // jetjob extension: waiting because no worker that was offered it has a handler for its type.
    v.unhandled = {
      since: toRfc3339(spec.unhandled.since),
      worker_id: spec.unhandled.w,
      reason: `no worker has a handler for job type '${spec.type}'`,
    };
  }
  if (d.workerId !== undefined) v.worker_id = d.workerId;
  return v;
}

export function errorView(e: JobErrorRecord): JobError {
  const v: JobError = {
    code: e.code,
    type: e.type ?? e.code,
    message: e.message,
    attempt: e.attempt,
    occurred_at: toRfc3339(e.occurredAt),
  };
  if (e.retryable !== undefined) v.retryable = e.retryable;
  if (e.details !== undefined) v.details = e.details;
  return v;
}

function retryView(p: RetryPolicy): Record<string, unknown> {
  return {
    max_attempts: p.maxAttempts,
    initial_interval: formatIsoDuration(p.initialIntervalMs),
    backoff_coefficient: p.backoffCoefficient,
    max_interval: formatIsoDuration(p.maxIntervalMs),
    jitter: p.jitter,
    non_retryable_errors: p.nonRetryableErrors,
    on_exhaustion: p.onExhaustion,
    backoff_strategy: p.strategy,
  };
}
