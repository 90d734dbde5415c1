/**
 * The success bodies of the API, as zod schemas for the OpenAPI document (route.ts `response`).
 * They describe what the views build (store/jobs/view.ts, store/queues/stats.ts, the route handlers); they do not
 * build or check answers, so a response is exactly what its handler sends. Objects are loose: views
 * echo unknown request fields (a job's extension fields) and add fields over time.
 */
import { z } from "zod";

import { allJobStates } from "../core/states.js";
import type { QueueStats } from "../store/queues/stats.js";

const time = z.string().describe("RFC 3339 time");

/** An error of an attempt (store/jobs/view.ts `errorView`). */
export const jobErrorSchema = z
  .looseObject({
    code: z.string(),
    type: z.string(),
    message: z.string(),
    attempt: z.int(),
    occurred_at: time,
    retryable: z.boolean().exactOptional(),
    details: z.record(z.string(), z.unknown()).exactOptional(),
  })
  .meta({ title: "JobError" });

/** The OJS job object (store/jobs/view.ts `buildJobView`); unset fields are omitted. */
export const jobSchema = z
  .looseObject({
    id: z.string(),
    type: z.string(),
    state: z.enum(allJobStates),
    queue: z.string(),
    args: z.unknown(),
    priority: z.int(),
    attempt: z.int(),
    max_attempts: z.int(),
    created_at: time,
    enqueued_at: time,
    meta: z.record(z.string(), z.unknown()).exactOptional(),
    traceparent: z.string().exactOptional(),
    tracestate: z.string().exactOptional(),
    timeout_ms: z.int().exactOptional(),
    started_at: time.exactOptional(),
    completed_at: time.exactOptional(),
    discarded_at: time.exactOptional(),
    cancelled_at: time.exactOptional(),
    scheduled_at: time.exactOptional(),
    expires_at: time.exactOptional(),
    result: z.unknown().exactOptional(),
    error: jobErrorSchema.exactOptional(),
    errors: z.array(jobErrorSchema).exactOptional(),
    tags: z.array(z.string()).exactOptional(),
    created_by: z.string().exactOptional(),
    retry: z.record(z.string(), z.unknown()).exactOptional(),
    unique: z.record(z.string(), z.unknown()).exactOptional(),
    retry_delay_ms: z.int().exactOptional(),
    next_attempt_at: time.exactOptional(),
    visibility_timeout_ms: z.int().exactOptional(),
    metadata: z.record(z.string(), z.unknown()).exactOptional(),
    parent_results: z.unknown().exactOptional(),
    workflow_id: z.string().exactOptional(),
    exclusive_key: z.string().exactOptional(),
    unhandled: z.object({ since: time, worker_id: z.string(), reason: z.string() }).exactOptional(),
    worker_id: z.string().exactOptional(),
  })
  .meta({ title: "Job" });

/** `{ job }`: the answer of most single-job operations. */
export const jobBodySchema = z.object({ job: jobSchema });

/** A queue's counts (store/queues/stats.ts `QueueStats`). */
export const queueStatsSchema = z
  .object({
    name: z.string(),
    paused: z.boolean(),
    available: z.int(),
    active: z.int(),
    completed: z.int(),
    discarded: z.int(),
    cancelled: z.int(),
    retried: z.int(),
    expired: z.int(),
    scheduled: z.int(),
    retryable: z.int(),
    pending: z.int(),
    rate_limit_per_second: z.number().exactOptional(),
    approximate: z.boolean().exactOptional(),
    exclusive: z.object({ keys_held: z.int(), jobs_waiting: z.int() }).exactOptional(),
    exclusive_unknown: z.boolean().exactOptional(),
    depth: z.int().exactOptional(),
    max_depth: z.int().exactOptional(),
  })
  .meta({ title: "QueueStats" }) satisfies z.ZodType<QueueStats>;

/** `pagination` of the offset-paged OJS lists (paging.ts `pagination`). */
export const paginationSchema = z.object({
  total: z.int(),
  limit: z.int(),
  offset: z.int(),
  has_more: z.boolean(),
  next_cursor: z.string().exactOptional(),
});

/** `pagination` of the admin lists (ojs-admin-views.ts `adminPagination`). */
export const adminPaginationSchema = z.object({
  total: z.int(),
  page: z.int(),
  per_page: z.int(),
  total_pages: z.int(),
  has_more: z.boolean(),
  approximate: z.boolean().exactOptional(),
});

/** A page of an admin list: `items` and `pagination`. */
export function adminListSchema(item: z.ZodType): z.ZodObject {
  return z.looseObject({ items: z.array(item), pagination: adminPaginationSchema });
}

/** An object whose fields the operation documents in its summary (an open shape). */
export const openObject = z.record(z.string(), z.unknown());

/** A loose object with these fields (more may be sent). */
export function fields(shape: z.ZodRawShape): z.ZodObject {
  return z.looseObject(shape);
}

const storageSchema = z.object({
  full: z.boolean(),
  used_bytes: z.int().exactOptional(),
  capacity_bytes: z.int().exactOptional(),
  reserve_bytes: z.int().exactOptional(),
  last_refused_at: time.exactOptional(),
});

/** `GET /health`, `/ojs/v1/health` (routes-ojs-admin.ts `health`); 503 has the same shape. */
export const healthResponseSchema = z.object({
  status: z.enum(["ok", "degraded"]),
  version: z.string(),
  uptime_seconds: z.int(),
  backend: z.object({
    type: z.literal("nats-jetstream"),
    status: z.enum(["ok", "unavailable"]),
    latency_ms: z.number().exactOptional(),
    error: z.string().exactOptional(),
  }),
  storage: storageSchema.exactOptional(),
  streams: z.object({ missing: z.array(z.string()), recreated: z.array(z.string()) }).exactOptional(),
  problems: z.array(z.string()).exactOptional(),
  queues: z.object({ total: z.int(), paused: z.int() }).exactOptional(),
  workers: openObject.exactOptional(),
});

/** `GET /ready`, `/ojs/v1/ready` (routes-ojs-admin.ts `ready`); 503 has the same shape. */
export const readyResponseSchema = z.object({
  status: z.enum(["ready", "not_ready"]),
  ready: z.boolean(),
  reasons: z.array(z.string()).exactOptional(),
  storage: storageSchema.exactOptional(),
});

/** A cron schedule (store/features/cron.ts `CronView`). */
export const cronSchema = z
  .looseObject({
    name: z.string(),
    expression: z.string(),
    timezone: z.string(),
    overlap_policy: z.string(),
    enabled: z.boolean(),
    job_template: openObject,
    target: z.string().exactOptional(),
    created_at: time,
    next_run_at: time.exactOptional(),
    last_run_at: time.exactOptional(),
    last_job_id: z.string().exactOptional(),
    last_error: z.object({ code: z.string(), message: z.string(), tick_at: time }).exactOptional(),
  })
  .meta({ title: "Cron" });

/** A workflow (store/workflows/workflow-record.ts `WorkflowView`). */
export const workflowSchema = z
  .looseObject({
    id: z.string(),
    name: z.string().exactOptional(),
    type: z.string(),
    state: z.string(),
    created_at: time,
    completed_at: time.exactOptional(),
    steps_total: z.int().exactOptional(),
    steps_completed: z.int().exactOptional(),
  })
  .meta({ title: "Workflow" });

/** A workflow at the top level and again as `workflow` (routes-ojs-admin.ts `workflowBody`). */
export const workflowBodySchema = workflowSchema.extend({ workflow: workflowSchema });

/** A distributed lock (store/features/locks.ts `LockView`). */
export const lockSchema = z
  .object({
    name: z.string(),
    owner: z.string().exactOptional(),
    fencing_token: z.int(),
    acquired_at: time,
    expires_at: time,
  })
  .meta({ title: "Lock" });

/** A lifecycle event, CloudEvents-shaped (store/jobs/events.ts `EventView`). */
export const eventSchema = z
  .looseObject({
    specversion: z.literal("1.0"),
    id: z.string(),
    type: z.string(),
    source: z.string(),
    time,
    subject: z.string().exactOptional(),
    data: z.unknown().exactOptional(),
  })
  .meta({ title: "Event" });

/** A registered job schema (routes-ojs-schemas.ts `schemaView`; `schema` absent in lists). */
export const schemaRecordSchema = z
  .object({
    uri: z.string(),
    type: z.string(),
    job_type: z.string(),
    version: z.string(),
    schema: z.unknown().exactOptional(),
    created_at: time,
  })
  .meta({ title: "JobSchema" });

/** A targeted (fleet) job (fleet/jobs.ts): one operation on the agents its target selects. */
export const fleetJobViewSchema = z
  .looseObject({
    id: z.string(),
    op: z.string(),
    target: z.string(),
    status: z.string(),
    counts: openObject.exactOptional(),
    results: z.array(openObject).exactOptional(),
    timeline: z.array(openObject).exactOptional(),
  })
  .meta({ title: "FleetJob" });

/** A worker: a fleet agent or a queue worker (fleet/workers.ts `WorkerView`). */
export const workerSchema = z
  .looseObject({ kind: z.enum(["agent", "queue"]).exactOptional(), online: z.boolean().exactOptional() })
  .meta({ title: "Worker" });

/** A bulk operation's outcome (ojs-admin-bulk: matched, succeeded, failed). */
export const bulkResultSchema = fields({
  succeeded: z.int().exactOptional(),
  failed: z.int().exactOptional(),
});

/** An agent's NATS identity (access/identities.ts `IdentityView`): never its secret or digest. */
export const agentIdentitySchema = z
  .looseObject({
    kind: z.enum(["agent", "worker"]).describe("A fleet agent, or an SDK queue worker (`worker:<name>`)"),
    name: z
      .string()
      .describe("What to call it by in paths and the CLI: the agent's host name, or `worker:<name>`"),
    hostname: z.string().describe("The agent's host name, or the worker identity's name"),
    queues: z
      .array(z.string())
      .exactOptional()
      .describe(
        "Queues granted on accept: a worker takes jobs only from these (through the API servers' relay)",
      ),
    state: z.enum(["pending", "accepted", "rejected", "revoked"]),
    requested_at: time,
    from: z.string().exactOptional().describe("Address the request to join came from"),
    decided_at: time.exactOptional(),
    decided_by: z.string().exactOptional(),
    accepted_via: z.enum(["operator", "token", "local"]).exactOptional(),
  })
  .meta({ title: "AgentIdentity" });

/** `GET /api/v1/agent-identities` (routes-identities.ts): `enabled: false` with a reason when off. */
export const agentIdentityListSchema = z.object({
  enabled: z.boolean().describe("Whether this server's NATS hands agents' logins to jetjob (auth callout)"),
  reason: z.string().exactOptional().describe("Why enrollment is off, in words (when enabled is false)"),
  identities: z.array(agentIdentitySchema),
});

/** `POST /api/v1/agent-enroll-tokens`: the token is shown once, with the command an agent runs. */
export const enrollTokenSchema = z.object({
  token: z.string(),
  expires_at: time,
  command: z.string().describe("Run on the agent's machine (add --nats-tls-ca when NATS uses TLS)"),
});
