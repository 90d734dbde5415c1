/**
 * Queue jobs: enqueue one or a batch, read, cancel, retry, list and search a queue's jobs. The
 * inputs are the OJS wire bodies and the `GET /api/v1/jobs` query, validated here for both doors
 * (the HTTP routes and the NATS client); a read by id or a list without a queue also covers
 * targeted (fleet) jobs, as `/api/v1/jobs` does.
 */
import { z } from "zod";

import { applyTraceContext, parseEnqueueRequest } from "../core/envelope.js";
import { ValidationError } from "../core/errors.js";
import { queryInt } from "../core/query.js";
import { queueNameSchema } from "../core/schema.js";
import { allJobStates } from "../core/states.js";
import { traceContextOf } from "../core/tracing.js";
import { isFleetId } from "../fleet/ids.js";
import type { FleetJobPage } from "../fleet/jobs.js";
import { getFleetJob, listFleetJobs } from "../fleet/jobs.js";
import type { FleetJobView } from "../fleet/types.js";
import type { Enqueued } from "../store/jobs/enqueue.js";
import type { JobPage } from "../store/jobs/list.js";
import type { JobView } from "../store/jobs/view.js";
import type { Caller, UseCaseDeps } from "./deps.js";
import { fleetOf } from "./deps.js";
import type { QueueJobSearch } from "./job-search.js";
import { hasFilter, SEARCH_MAX_JOBS, searchQueueJobs } from "./job-search.js";

export { SEARCH_MAX_JOBS };

/** Validates and enqueues one job (OJS PUSH); `created` is false when a unique job already existed. */
export async function enqueueJob(d: UseCaseDeps, body: unknown, caller: Caller = {}): Promise<Enqueued> {
  const req = parseEnqueueRequest(body);
  applyTraceContext(req.spec, traceContextOf(caller.traceparent, caller.tracestate));
  if (caller.principal !== undefined) req.spec.createdBy = caller.principal;
  const [r] = await d.engine.enqueueNormalized([req]);
  return r!;
}

/** The body of a batch enqueue: its jobs are validated one by one by {@link enqueueJobs}. */
export const batchRequestSchema = z.object({ jobs: z.array(z.unknown()) }).loose();

/** Validates every job first, then enqueues all of them or none (OJS batch PUSH). */
export function enqueueJobs(d: UseCaseDeps, bodies: unknown[], caller: Caller = {}): Promise<JobView[]> {
  return d.engine.enqueueBatch(
    bodies,
    traceContextOf(caller.traceparent, caller.tracestate),
    caller.principal,
  );
}

export const getJob = (d: UseCaseDeps, id: string): Promise<JobView> => d.engine.get(id);

/** A job by id: a targeted job with its per-host results and timeline, else a queue job. */
export async function getAnyJob(d: UseCaseDeps, id: string): Promise<JobView | FleetJobView> {
  if (d.fleet && isFleetId(id)) {
    const job = await getFleetJob(d.fleet, id).catch(() => undefined);
    if (job) return job;
  }
  return d.engine.get(id);
}

/** Cancels a job (409 when it already finished). */
export const cancelJob = (d: UseCaseDeps, id: string): Promise<JobView> => d.engine.cancel(id);

/** Runs a discarded or cancelled queue job again with fresh attempts. */
export const retryJob = (d: UseCaseDeps, id: string): Promise<JobView> => d.engine.retryJob(id);

const fleetStatuses = ["running", "completed", "partial_failure", "failed", "timeout", "cancelled"] as const;

/** The `GET /api/v1/jobs` query: a queue's jobs (with a search), or targeted jobs without `queue`. */
export const jobListQuery = z.object({
  queue: queueNameSchema.optional().describe("This queue's jobs; without it, targeted (fleet) jobs"),
  state: z.enum(allJobStates).optional().describe("Queue jobs in this state"),
  status: z.enum(fleetStatuses).optional().describe("Targeted jobs with this status"),
  op: z.string().optional().describe("Targeted jobs of this operation"),
  host: z.string().optional().describe("Targeted jobs that ran on this host"),
  limit: queryInt(1, 500).optional().describe("Page size"),
  cursor: z.string().optional().describe("The cursor returned with the previous page"),
  type: z.string().optional().describe("Queue jobs of this type (exact, or a prefix ending in *)"),
  id: z.string().optional().describe("Queue jobs whose id starts with this"),
  text: z
    .string()
    .max(200)
    .optional()
    .describe("Queue jobs with this text in their args or errors (case-insensitive)"),
});

export type JobListQuery = z.output<typeof jobListQuery>;

/** A queue's jobs, newest first; with `type`, `id` or `text`, a bounded search (job-search.ts). */
export async function listQueueJobs(
  d: UseCaseDeps,
  query: JobListQuery & { queue: string },
): Promise<JobPage | QueueJobSearch> {
  const filter = {
    ...(query.type ? { type: query.type } : {}),
    ...(query.id ? { id: query.id } : {}),
    ...(query.text ? { text: query.text } : {}),
  };
  const paging = {
    queue: query.queue,
    ...(query.state === undefined ? {} : { state: query.state }),
    ...(query.cursor === undefined ? {} : { cursor: query.cursor }),
  };
  if (hasFilter(filter)) return searchQueueJobs(d.engine, { ...paging, limit: query.limit ?? 50 }, filter);
  return d.engine.listJobs({ ...paging, ...(query.limit === undefined ? {} : { limit: query.limit }) });
}

/** `GET /api/v1/jobs`: a queue's jobs, or (no queue, with a fleet controller) targeted jobs. */
export async function listJobs(
  d: UseCaseDeps,
  query: JobListQuery,
): Promise<JobPage | QueueJobSearch | FleetJobPage> {
  if (query.queue !== undefined) return listQueueJobs(d, { ...query, queue: query.queue });
  if (!d.fleet) throw new ValidationError("queue is required and must be a valid queue name");
  return listFleetJobs(fleetOf(d), {
    ...(query.status === undefined ? {} : { status: query.status }),
    ...(query.op === undefined ? {} : { op: query.op }),
    ...(query.host === undefined ? {} : { host: query.host }),
    ...(query.limit === undefined ? {} : { limit: query.limit }),
    ...(query.cursor === undefined ? {} : { cursor: query.cursor }),
  });
}
