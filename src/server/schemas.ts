/**
 * Request schemas of the OJS worker routes (fetch, ack, nack, heartbeat) and shared shapes.
 */
import { z } from "zod";

import { idPattern, queueNameSchema } from "../core/schema.js";

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

export const batchRequestSchema = z.object({ jobs: z.array(z.unknown()) }).loose();

export type FetchRequestWire = z.infer<typeof fetchRequestSchema>;
export type AckRequestWire = z.infer<typeof ackRequestSchema>;
export type NackRequestWire = z.infer<typeof nackRequestSchema>;
export type HeartbeatRequestWire = z.infer<typeof heartbeatRequestSchema>;
