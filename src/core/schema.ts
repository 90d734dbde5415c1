/**
 * Wire schemas (zod) of the OJS enqueue request. The same schemas validate requests at the HTTP edge
 * and in the SDKs, and document the API (OpenAPI is generated from them).
 */
import { z } from "zod";

import { MAX_DURATION_MS } from "./time.js";

export const jobTypePattern = /^[a-z][a-z0-9_-]*(\.[a-z][a-z0-9_-]*)*$/;
/** Dots separate non-empty parts: the name is a KV key, which cannot end in a dot or hold `..`. */
export const queueNamePattern = /^[a-z0-9][a-z0-9-]*(?:\.[a-z0-9-]+)*$/;
export const idPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

export const MIN_PRIORITY = -100;
export const MAX_PRIORITY = 100;

const isoDuration = z
  .string()
  .regex(/^P(?!$)(\d+(\.\d+)?W)?(\d+(\.\d+)?D)?(T(?=\d)(\d+(\.\d+)?H)?(\d+(\.\d+)?M)?(\d+(\.\d+)?S)?)?$/, {
    message: "must be an ISO 8601 duration such as PT1S or PT5M",
  });

const timeValue = z.string().min(1).describe("RFC 3339 time, or a relative time such as +PT5S");

export const jobTypeSchema = z
  .string()
  .max(255)
  .regex(jobTypePattern, { message: "must be dot-separated lowercase segments, e.g. email.send" });

export const queueNameSchema = z.string().max(128).regex(queueNamePattern, {
  message:
    "must be lowercase letters, digits, '-' and '.' (not at the end, not twice in a row), starting with a letter or digit",
});

export const retryPolicySchema = z
  .object({
    /** Total executions. 0 is read as 1 (run once, never retry). */
    max_attempts: z.int().min(0, { message: "max_attempts must be >= 0" }).max(1000).optional(),
    initial_interval: isoDuration.optional(),
    initial_interval_ms: z.int().min(0).max(MAX_DURATION_MS).optional(),
    backoff_coefficient: z
      .number()
      .min(1, { message: "backoff_coefficient must be >= 1" })
      .max(100)
      .optional(),
    max_interval: isoDuration.optional(),
    max_interval_ms: z.int().min(0).max(MAX_DURATION_MS).optional(),
    jitter: z.boolean().optional(),
    non_retryable_errors: z.array(z.string().max(500)).max(100).optional(),
    on_exhaustion: z.enum(["discard", "dead_letter"]).optional(),
    backoff_strategy: z.enum(["exponential", "linear", "constant"]).optional(),
    backoff_type: z.enum(["exponential", "linear", "constant"]).optional(),
  })
  .loose();

export const uniquePolicySchema = z
  .object({
    keys: z
      .array(z.enum(["type", "args", "queue", "meta"]))
      .min(1)
      .optional(),
    key: z
      .array(z.enum(["type", "args", "queue", "meta"]))
      .min(1)
      .optional(),
    args_keys: z
      .array(z.string().min(1))
      .min(1)
      .optional()
      .describe("With 'args' in keys: only these top-level keys of the args object make the key"),
    meta_keys: z
      .array(z.string().min(1))
      .min(1)
      .optional()
      .describe("With 'meta' in keys: only these keys of meta make the key"),
    period: isoDuration.optional(),
    on_conflict: z.enum(["reject", "ignore", "replace"]).optional(),
    states: z
      .array(
        z.enum([
          "scheduled",
          "available",
          "pending",
          "active",
          "retryable",
          "completed",
          "cancelled",
          "discarded",
        ]),
      )
      .optional(),
  })
  .loose();

const retentionMs = z.int().min(0).max(MAX_DURATION_MS);

/**
 * jetjob's extension `options.retention`: how long this job is kept after it finished, per kind of
 * ending (OJS has no standard field). Overrides the queue's and the deployment's retention.
 */
export const retentionSchema = z
  .object({
    completed_ms: retentionMs.optional().describe("Keep the job this long after it completed"),
    discarded_ms: retentionMs
      .optional()
      .describe("Keep it this long after it was discarded, cancelled or expired"),
    dead_letter_ms: retentionMs.optional().describe("Keep it this long after it became a dead letter"),
  })
  .strict();

/**
 * `options.rate_limit`: jetjob's queue rate (`max_per_second`), or an ojs-rate-limiting policy
 * (`key` with `concurrency`; envelope.ts maps what jetjob supports onto an exclusive key).
 */
export const rateLimitKeySchema = z
  .string()
  .max(256)
  .regex(/^[a-zA-Z0-9][a-zA-Z0-9._:-]*$/, {
    message: "rate_limit.key must match ^[a-zA-Z0-9][a-zA-Z0-9._:-]*$",
  })
  .describe("A rate-limit key (ojs-rate-limiting §6.1)");

export const rateLimitSchema = z
  .object({
    max_per_second: z.number().positive().optional(),
    key: rateLimitKeySchema.optional(),
    concurrency: z.int().min(0).optional(),
    rate: z.unknown().optional(),
    throttle: z.unknown().optional(),
    on_limit: z.enum(["wait", "reschedule", "drop"]).optional(),
  })
  .loose()
  .refine((r) => r.max_per_second !== undefined || r.key !== undefined, {
    message: "rate_limit needs max_per_second (the queue's rate) or key (ojs-rate-limiting)",
  });

/** A queue's retention (queue config): ages, and how many finished jobs to keep at most. */
export const queueRetentionSchema = retentionSchema.extend({
  completed_count: z
    .int()
    .min(0)
    .max(1_000_000_000)
    .optional()
    .describe("Keep about this many completed jobs"),
  discarded_count: z
    .int()
    .min(0)
    .max(1_000_000_000)
    .optional()
    .describe("Keep about this many discarded jobs (dead letters are kept their whole age)"),
});

export const jobOptionsSchema = z
  .object({
    queue: queueNameSchema.optional(),
    priority: z
      .int()
      .min(MIN_PRIORITY, { message: `priority must be between ${MIN_PRIORITY} and ${MAX_PRIORITY}` })
      .max(MAX_PRIORITY, { message: `priority must be between ${MIN_PRIORITY} and ${MAX_PRIORITY}` })
      .optional(),
    timeout_ms: z.int().min(1).optional(),
    delay_until: timeValue.optional(),
    scheduled_at: timeValue.optional(),
    expires_at: timeValue.optional(),
    retry: retryPolicySchema.optional(),
    retry_policy: retryPolicySchema.optional(),
    unique: uniquePolicySchema.optional(),
    tags: z.array(z.string().max(200)).max(100).optional(),
    visibility_timeout_ms: z.int().min(1).optional(),
    visibility_timeout: isoDuration.optional(),
    metadata: z.record(z.string(), z.unknown()).optional(),
    rate_limit: rateLimitSchema.optional(),
    pending: z.boolean().optional(),
    exclusive_key: z
      .string()
      .min(1, { message: "exclusive_key must not be empty" })
      .max(256, { message: "exclusive_key must be at most 256 characters" })
      .optional(),
    retention: retentionSchema.optional(),
  })
  .loose();

/** `POST /ojs/v1/jobs` body. Unknown top-level fields are kept and echoed on the job. */
export const enqueueRequestSchema = z
  .object({
    id: z.string().regex(idPattern, { message: "id must be a lowercase UUIDv7" }).optional(),
    type: jobTypeSchema,
    args: z.array(z.unknown(), { message: "args must be a JSON array" }),
    meta: z.record(z.string(), z.unknown()).optional(),
    schema: z.string().optional(),
    options: jobOptionsSchema.optional(),
    // Not validated by the schema: an invalid trace context is ignored, never a reason to refuse a job.
    traceparent: z
      .unknown()
      .optional()
      .describe("W3C traceparent the job's handler continues (the request's header is used when absent)"),
    tracestate: z.unknown().optional().describe("W3C tracestate that goes with traceparent"),
  })
  .loose();

export type EnqueueRequest = z.infer<typeof enqueueRequestSchema>;
export type JobOptionsWire = z.infer<typeof jobOptionsSchema>;
export type RetryPolicyWire = z.infer<typeof retryPolicySchema>;
export type UniquePolicyWire = z.infer<typeof uniquePolicySchema>;

/** Top-level request fields that are not copied into the job's extension fields. */
export const knownRequestFields: ReadonlySet<string> = new Set([
  "id",
  "type",
  "args",
  "meta",
  "schema",
  "options",
  "traceparent",
  "tracestate",
  // Set by the server from the request's token, never taken from the body (not echoed either).
  "created_by",
]);
