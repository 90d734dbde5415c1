/**
 * The job envelope: turning an OJS enqueue request into the normalized {@link JobSpec} that jetjob
 * stores, with validation errors that name the offending field.
 */
import type { z } from "zod";

import { ErrorCode, ValidationError } from "./errors.js";
import { rateLimitExclusiveKey } from "./rate-limit-policy.js";
import type { RetryPolicy } from "./retry.js";
import { checkErrorPattern, defaultRetryPolicy } from "./retry.js";
import type { RetentionPolicy } from "./storage-options.js";
import { retentionFromWire } from "./storage-options.js";
import type { EnqueueRequest, RetryPolicyWire, UniquePolicyWire } from "./schema.js";
import {
  MAX_PRIORITY,
  MIN_PRIORITY,
  enqueueRequestSchema,
  jobTypePattern,
  knownRequestFields,
  queueNamePattern,
} from "./schema.js";
import { parseIsoDurationMs, parseTimeMs } from "./time.js";
import type { TraceContext } from "./tracing.js";
import { traceContextOf } from "./tracing.js";

export const DEFAULT_QUEUE = "default";

/** A failure as recorded on a job (`error` and each entry of `errors[]`). */
export interface JobErrorRecord {
  code: string;
  type?: string;
  message: string;
  retryable?: boolean;
  details?: Record<string, unknown>;
  attempt: number;
  occurredAt: number;
}

/** Uniqueness policy (enforced by the engine at enqueue). */
export interface UniquePolicy {
  keys: Array<"type" | "args" | "queue" | "meta">;
  /** Only these keys of the args object count (ojs-unique-jobs §3.3). */
  argsKeys?: string[];
  /** Only these keys of meta count (§3.4). */
  metaKeys?: string[];
  periodMs?: number;
  onConflict: "reject" | "ignore" | "replace";
  states?: string[];
}

/**
 * A job as stored inside a segment. Queue and priority belong to the segment. Fields after `pending`
 * are carried when a job moves to a new segment (retry, schedule), so the new home is self-contained.
 */
export interface JobSpec {
  type: string;
  args: unknown[];
  /** Set when the id is not derived from the job's first location (client-chosen, or moved). */
  id?: string;
  meta?: Record<string, unknown>;
  /** W3C trace context of the request that created the job (validated); its handler continues the trace. */
  traceparent?: string;
  tracestate?: string;
  /** Unknown top-level request fields, echoed back on the job. */
  ext?: Record<string, unknown>;
  schema?: string;
  timeoutMs?: number;
  visibilityMs?: number;
  retry?: RetryPolicy;
  unique?: UniquePolicy;
  tags?: string[];
  expiresAt?: number;
  scheduledAt?: number;
  metadata?: Record<string, unknown>;
  pending?: boolean;
  /** Who enqueued it: the API token's name (HTTP door); shown as `created_by`. */
  createdBy?: string;
  /** Exclusive key: at most one job per key is active at a time, in enqueue order (see store/features/exclusive.ts). */
  xkey?: string;
  /** Set for jobs of a workflow: which workflow, and which step/job/callback of it. */
  workflow?: { id: string; idx: number; role: "step" | "job" | "callback" };
  /** Results of the earlier steps of a chain (OJS `parent_results`). */
  parentResults?: unknown[];
  createdAt?: number;
  attempt?: number;
  errors?: JobErrorRecord[];
  retryDelayMs?: number;
  /** The first home of a moved job, `store.seq.idx`, where its `loc` pointer lives. */
  home?: string;
  /** How long the job is kept once finished (`options.retention`); else its queue's, else the default. */
  retention?: RetentionPolicy;
  /**
   * Workers have found no handler for the job's type since `since` (the last one: `w`). It waits in
   * the delay stream for a worker that has one (worker/unhandled.ts).
   */
  unhandled?: { since: number; w: string };
}

/** A validated enqueue: where the job goes and what is stored. */
export interface NormalizedEnqueue {
  queue: string;
  priority: number;
  spec: JobSpec;
  /** When the job becomes available, if in the future. */
  runAtMs?: number;
  /** `options.rate_limit.max_per_second`: configures the queue's rate limit. */
  rateLimitPerSecond?: number;
}

/** Validates an unknown request body and normalizes it. Throws {@link ValidationError}. */
export function parseEnqueueRequest(body: unknown, nowMs: number = Date.now()): NormalizedEnqueue {
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    throw new ValidationError("The request body must be a JSON object with at least 'type' and 'args'.", {
      code: ErrorCode.InvalidRequest,
    });
  }
  const plain = plainRequest(body as Record<string, unknown>);
  if (plain) return normalizeEnqueue(plain, nowMs);
  const parsed = enqueueRequestSchema.safeParse(body);
  if (!parsed.success) throw zodToValidationError(parsed.error);
  return normalizeEnqueue(parsed.data, nowMs);
}

/**
 * The most common request, `{type, args, options?: {queue?, priority?}}`, checked by hand with the
 * schema's own rules (the schema costs tens of microseconds on a cold call, which shows in
 * enqueue-to-start latency). Anything else, valid or not, goes through the schema; so does a plain
 * request that fails a check, for the schema's error message.
 */
function plainRequest(body: Record<string, unknown>): EnqueueRequest | undefined {
  for (const k of Object.keys(body)) if (k !== "type" && k !== "args" && k !== "options") return undefined;
  const { type, args, options } = body;
  if (typeof type !== "string" || type.length > 255 || !jobTypePattern.test(type)) return undefined;
  if (!Array.isArray(args)) return undefined;
  const req: EnqueueRequest = { type, args: args.slice() };
  if (options === undefined) return req;
  if (options === null || typeof options !== "object" || Array.isArray(options)) return undefined;
  const o = options as Record<string, unknown>;
  for (const k of Object.keys(o)) if (k !== "queue" && k !== "priority") return undefined;
  const { queue, priority } = o;
  const opts: NonNullable<EnqueueRequest["options"]> = {};
  if (queue !== undefined) {
    if (typeof queue !== "string" || queue.length > 128 || !queueNamePattern.test(queue)) return undefined;
    opts.queue = queue;
  }
  if (priority !== undefined) {
    if (!Number.isSafeInteger(priority)) return undefined;
    const p = priority as number;
    if (p < MIN_PRIORITY || p > MAX_PRIORITY) return undefined;
    opts.priority = p;
  }
  req.options = opts;
  return req;
}

/** Normalizes an already schema-checked request (semantic checks only). */
export function normalizeEnqueue(req: EnqueueRequest, nowMs: number): NormalizedEnqueue {
  const opts = req.options ?? {};
  const spec: JobSpec = { type: req.type, args: req.args };
  if (req.id !== undefined) spec.id = req.id;
  if (req.meta !== undefined) spec.meta = req.meta;
  if (req.schema !== undefined) spec.schema = req.schema;
  if (req.traceparent !== undefined) applyTraceContext(spec, traceContextOf(req.traceparent, req.tracestate));
  const ext: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(req)) if (!knownRequestFields.has(k)) ext[k] = v;
  if ("queue" in ext) {
    // The OJS HTTP binding takes the queue in `options.queue`. A top-level `queue` (the job object's
    // field, sent back by some clients) that names another queue would be a job silently misrouted.
    if (ext.queue !== (opts.queue ?? DEFAULT_QUEUE)) {
      throw new ValidationError(
        `a top-level 'queue' (${JSON.stringify(ext.queue)}) does not name the job's queue; put it in options.queue`,
        { code: ErrorCode.InvalidRequest, details: { field: "queue" } },
      );
    }
    delete ext.queue;
  }
  if (Object.keys(ext).length > 0) spec.ext = ext;

  if (opts.timeout_ms !== undefined) spec.timeoutMs = opts.timeout_ms;
  const visibility =
    opts.visibility_timeout_ms ?? durationField("options.visibility_timeout", opts.visibility_timeout);
  if (visibility !== undefined) {
    if (visibility < 1) {
      throw new ValidationError("options.visibility_timeout must be at least 1 ms", {
        details: { field: "options.visibility_timeout" },
      });
    }
    spec.visibilityMs = visibility;
  }
  const retryWire = opts.retry ?? opts.retry_policy;
  if (retryWire !== undefined) spec.retry = normalizeRetryPolicy(retryWire);
  if (opts.unique !== undefined) spec.unique = normalizeUnique(opts.unique, req.args);
  if (opts.tags !== undefined) spec.tags = opts.tags;
  if (opts.metadata !== undefined) spec.metadata = opts.metadata;
  if (opts.pending === true) spec.pending = true;
  if (opts.exclusive_key !== undefined) spec.xkey = opts.exclusive_key;
  if (opts.retention !== undefined) spec.retention = retentionFromWire(opts.retention);

  const expires =
    opts.expires_at === undefined ? undefined : parseTimeField("options.expires_at", opts.expires_at, nowMs);
  if (expires !== undefined) spec.expiresAt = expires;
  const scheduledText = opts.scheduled_at ?? opts.delay_until;
  const runAt =
    scheduledText === undefined
      ? undefined
      : parseTimeField(
          opts.scheduled_at === undefined ? "options.delay_until" : "options.scheduled_at",
          scheduledText,
          nowMs,
        );
  const result: NormalizedEnqueue = {
    queue: opts.queue ?? DEFAULT_QUEUE,
    priority: opts.priority ?? 0,
    spec,
  };
  if (opts.rate_limit?.max_per_second !== undefined)
    result.rateLimitPerSecond = opts.rate_limit.max_per_second;
  const rateKey = opts.rate_limit && rateLimitExclusiveKey(opts.rate_limit, spec.xkey);
  if (rateKey !== undefined) spec.xkey = rateKey;
  if (runAt !== undefined && runAt > nowMs) {
    spec.scheduledAt = runAt;
    result.runAtMs = runAt;
  }
  // A pending job (http-binding §7.1, §9.5) waits in the delay stream, due never, until activated.
  if (spec.pending === true) result.runAtMs = PENDING_DUE_MS;
  return result;
}

/**
 * The due time of pending jobs' delay segments: never reached (the promoter skips pending jobs in any
 * case); activation moves the job on (store/segments/activate.ts).
 */
export const PENDING_DUE_MS = Date.UTC(9999, 0, 1);

/**
 * Gives a job the trace context of the request that enqueues it (the `traceparent` and `tracestate`
 * headers), unless the job brought its own.
 */
export function applyTraceContext(spec: JobSpec, tc: TraceContext | undefined): void {
  if (tc === undefined || spec.traceparent !== undefined) return;
  spec.traceparent = tc.traceparent;
  if (tc.tracestate !== undefined) spec.tracestate = tc.tracestate;
}

/** Turns a wire retry policy into a full {@link RetryPolicy} (defaults filled in). */
export function normalizeRetryPolicy(w: RetryPolicyWire): RetryPolicy {
  const p = defaultRetryPolicy();
  if (w.max_attempts !== undefined) p.maxAttempts = Math.max(1, w.max_attempts);
  const initial =
    w.initial_interval_ms ?? durationField("options.retry.initial_interval", w.initial_interval);
  if (initial !== undefined) p.initialIntervalMs = initial;
  if (w.backoff_coefficient !== undefined) p.backoffCoefficient = w.backoff_coefficient;
  const max = w.max_interval_ms ?? durationField("options.retry.max_interval", w.max_interval);
  if (max !== undefined) p.maxIntervalMs = max;
  // Without an explicit max_interval, the default cap must not undercut a longer initial_interval.
  else if (p.initialIntervalMs > p.maxIntervalMs) p.maxIntervalMs = p.initialIntervalMs;
  if (w.jitter !== undefined) p.jitter = w.jitter;
  if (w.non_retryable_errors !== undefined) {
    w.non_retryable_errors.forEach((pattern, i) => {
      const problem = checkErrorPattern(pattern);
      if (problem) {
        const field = `options.retry.non_retryable_errors[${i}]`;
        throw new ValidationError(`${field} ${problem}`, {
          code: ErrorCode.ValidationError,
          details: { field },
        });
      }
    });
    p.nonRetryableErrors = w.non_retryable_errors;
  }
  if (w.on_exhaustion !== undefined) p.onExhaustion = w.on_exhaustion;
  const strategy = w.backoff_strategy ?? w.backoff_type;
  if (strategy !== undefined) p.strategy = strategy;
  if (p.maxIntervalMs < p.initialIntervalMs) {
    throw new ValidationError("options.retry.max_interval must not be shorter than initial_interval", {
      code: ErrorCode.ValidationError,
      details: { field: "options.retry.max_interval" },
    });
  }
  return p;
}

/** The object whose keys `args_keys` name: the args object itself, or the only element of `[obj]`. */
export function argsObject(args: unknown): Record<string, unknown> | undefined {
  const v: unknown = Array.isArray(args) && args.length === 1 ? args[0] : args;
  return v !== null && typeof v === "object" && !Array.isArray(v)
    ? (v as Record<string, unknown>)
    : undefined;
}

function normalizeUnique(w: UniquePolicyWire, args: unknown): UniquePolicy {
  const u: UniquePolicy = {
    keys: w.keys ?? w.key ?? ["type", "args"],
    onConflict: w.on_conflict ?? "reject",
  };
  if (w.args_keys !== undefined) {
    // A key the args do not have would make every such job collide on `null` (§2.2: refused).
    const obj = argsObject(args);
    const missing = w.args_keys.filter((k) => obj === undefined || !Object.hasOwn(obj, k));
    if (missing.length > 0) {
      throw new ValidationError(
        `options.unique.args_keys names ${missing.map((k) => `'${k}'`).join(", ")}, which the job's args object does not have`,
        { details: { field: "options.unique.args_keys", missing } },
      );
    }
    u.argsKeys = w.args_keys;
  }
  if (w.meta_keys !== undefined) u.metaKeys = w.meta_keys;
  const period = durationField("options.unique.period", w.period);
  if (period !== undefined) u.periodMs = period;
  if (w.states !== undefined) u.states = w.states;
  return u;
}

function durationField(field: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const ms = parseIsoDurationMs(text);
  if (ms === undefined) {
    throw new ValidationError(`${field} must be an ISO 8601 duration such as PT1S, of at most 100 years`, {
      code: ErrorCode.ValidationError,
      details: { field },
    });
  }
  return ms;
}

function parseTimeField(field: string, text: string, nowMs: number): number {
  const ms = parseTimeMs(text, nowMs);
  if (ms === undefined) {
    throw new ValidationError(`${field} must be an RFC 3339 time or a relative time such as +PT5S`, {
      details: { field },
    });
  }
  return ms;
}

/** Converts zod issues into one {@link ValidationError}; retry policy problems are 422, others 400. */
export function zodToValidationError(error: z.ZodError): ValidationError {
  const issues = error.issues.map((i) => ({ path: i.path.map(String).join("."), message: i.message }));
  const first = issues[0];
  // Retry policy problems are semantic (422); the status follows the issue the message is about.
  const semantic = first !== undefined && /^options\.(retry|retry_policy)\./.test(first.path);
  const message = first
    ? `${first.path === "" ? "body" : first.path}: ${first.message}`
    : "The request is not valid.";
  return new ValidationError(message, {
    code: semantic ? ErrorCode.ValidationError : ErrorCode.InvalidRequest,
    details: { issues },
  });
}
