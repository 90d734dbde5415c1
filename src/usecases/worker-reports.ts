/**
 * What an OJS HTTP worker does (http-binding §8-9): fetch jobs (claim them with a lease), ack, nack,
 * heartbeat, and activate a pending job: the request schemas and the wire → engine mapping, with
 * defaults (one job per fetch, worker `anonymous`). The routes in server/routes-ojs.ts add what is
 * HTTP's own (the worker registry entry of an HTTP fetcher, an operator's directive in the heartbeat
 * answer).
 */
import { z } from "zod";

import { idPattern, queueNameSchema } from "../core/schema.js";
import type { JobView } from "../store/jobs/view.js";
import type { AckResult, HeartbeatResult, NackRequest } from "../store/jobs/operations.js";
import type { FetchRequest } from "../store/segments/fetch.js";
import type { UseCaseDeps } from "./deps.js";

const jobId = z.string().regex(idPattern, { message: "job_id must be a lowercase UUIDv7" });

export const fetchRequestSchema = z
  .object({
    queues: z.array(queueNameSchema).min(1, { message: "queues must list at least one queue" }).max(100),
    count: z.int().min(1).max(1000).optional(),
    worker_id: z.string().max(200).optional(),
    visibility_timeout_ms: z
      .int()
      .min(1)
      .max(24 * 3600_000)
      .optional(),
  })
  .loose();

export const ackRequestSchema = z
  .object({
    job_id: jobId,
    result: z.unknown().optional(),
    worker_id: z.string().max(200).optional(),
  })
  .loose();

export const reportedErrorSchema = z
  .object({
    code: z.string().max(200).optional(),
    type: z.string().max(200).optional(),
    message: z.string().max(10_000).optional(),
    retryable: z.boolean().optional(),
    details: z.record(z.string(), z.unknown()).optional(),
  })
  .loose();

export const nackRequestSchema = z
  .object({
    job_id: jobId,
    error: reportedErrorSchema.optional(),
    requeue: z.boolean().optional(),
    worker_id: z.string().max(200).optional(),
  })
  .loose();

export const heartbeatRequestSchema = z
  .object({
    worker_id: z.string().max(200).optional(),
    /** Ids of the worker's active jobs (the OJS JS SDK sends a count here and the ids in active_job_ids). */
    active_jobs: z.union([z.array(jobId), z.int().min(0)]).optional(),
    active_job_ids: z.array(jobId).optional(),
    job_id: jobId.optional(),
    visibility_timeout_ms: z
      .int()
      .min(1)
      .max(24 * 3600_000)
      .optional(),
  })
  .loose();

export type FetchRequestWire = z.infer<typeof fetchRequestSchema>;
export type AckRequestWire = z.infer<typeof ackRequestSchema>;
export type NackRequestWire = z.infer<typeof nackRequestSchema>;
export type HeartbeatRequestWire = z.infer<typeof heartbeatRequestSchema>;

/** The engine's fetch request for a fetch body. @defaultValue count 1, worker `anonymous` */
export function fetchRequestOf(body: FetchRequestWire): FetchRequest {
  return {
    queues: body.queues,
    count: body.count ?? 1,
    workerId: body.worker_id ?? "anonymous",
    ...(body.visibility_timeout_ms === undefined ? {} : { visibilityMs: body.visibility_timeout_ms }),
  };
}

/** Claims up to `count` available jobs from the listed queues, in order. */
export const fetchJobs = (d: UseCaseDeps, req: FetchRequest): Promise<JobView[]> => d.engine.fetch(req);

/** Reports an active job's success; fenced on `worker_id` when given (`lease_lost`). */
export const ackJob = (d: UseCaseDeps, body: AckRequestWire): Promise<AckResult> =>
  d.engine.ack(body.job_id, body.result, body.worker_id);

/** Reports an active job's failure: retried or discarded per its retry policy (or given back, `requeue`). */
export function nackJob(d: UseCaseDeps, body: NackRequestWire): Promise<Record<string, unknown>> {
  const req: NackRequest = {};
  if (body.error !== undefined) req.error = body.error;
  if (body.requeue !== undefined) req.requeue = body.requeue;
  if (body.worker_id !== undefined) req.workerId = body.worker_id;
  return d.engine.nack(body.job_id, req);
}

/** The job ids a heartbeat names, in any of the fields OJS clients use. */
export function heartbeatIds(body: HeartbeatRequestWire): string[] {
  const ids = new Set<string>();
  if (Array.isArray(body.active_jobs)) for (const id of body.active_jobs) ids.add(id);
  for (const id of body.active_job_ids ?? []) ids.add(id);
  if (body.job_id) ids.add(body.job_id);
  return [...ids];
}

/** Extends the visibility timeout of the worker's active jobs; names those it no longer holds. */
export const heartbeat = (d: UseCaseDeps, body: HeartbeatRequestWire): Promise<HeartbeatResult> =>
  d.engine.heartbeat(heartbeatIds(body), body.visibility_timeout_ms, body.worker_id);

/** Activates a job enqueued with `options.pending` (409 for any other state). */
export const activateJob = (d: UseCaseDeps, id: string): Promise<JobView> => d.engine.activate(id);
