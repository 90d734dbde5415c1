/**
 * The OJS progress extension over HTTP (spec ojs-progress §6–§7, §10): report and read a running
 * job's progress. Two report forms are accepted:
 * - `PUT /ojs/v1/jobs/{id}/progress` with `progress` as a fraction 0..1 (the spec's form; values
 *   outside are clamped) or `percentage` 0..100;
 * - `POST /ojs/v1/workers/progress` with `job_id` and `percentage` 0..100 (the official JS SDK's
 *   `reportProgress`).
 * Both take an optional `message`, `data` (an object, at most 4 KB) and `worker_id`.
 * @module
 */
import type { Context } from "hono";
import { z } from "zod";

import { idPattern } from "../core/schema.js";
import type { Engine } from "../store/engine.js";
import type { ProgressAnswer } from "../store/jobs/progress-report.js";
import { getProgress, reportProgress } from "../store/jobs/progress-report.js";
import type { ProgressUpdate } from "../store/jobs/progress.js";
import { Scope } from "./auth.js";
import { ojsJson } from "./ojs.js";
import type { RouteDef } from "./route.js";
import { defineRoute } from "./route.js";
import { fields } from "./response-schemas.js";

const reportFields = {
  progress: z.number().optional(),
  percentage: z.number().optional(),
  message: z.string().max(10_000).optional(),
  data: z.record(z.string(), z.unknown()).optional(),
  worker_id: z.string().max(200).optional(),
};

export const progressRequestSchema = z.object(reportFields).loose();

export const workerProgressRequestSchema = z
  .object({
    job_id: z.string().regex(idPattern, { message: "job_id must be a lowercase UUIDv7" }),
    ...reportFields,
  })
  .loose();

type ProgressBody = z.infer<typeof progressRequestSchema>;

/** The update in a request: `progress` (a fraction) wins over `percentage` (0..100). */
function updateOf(body: ProgressBody): ProgressUpdate {
  const progress = body.progress ?? (body.percentage === undefined ? undefined : body.percentage / 100);
  return { progress, message: body.message, data: body.data };
}

/** The answer with the headers of §10.3. */
function answer(c: Context, a: ProgressAnswer): Response {
  c.header("Cache-Control", "no-cache");
  if (a.progress !== null) c.header("X-OJS-Progress", String(a.progress));
  if (a.updated_at !== null) c.header("Last-Modified", new Date(a.updated_at).toUTCString());
  return ojsJson(c, 200, a);
}

export function ojsProgressRoutes(engine: Engine): RouteDef[] {
  const { svc } = engine;
  return [
    defineRoute({
      method: "PUT",
      path: "/ojs/v1/jobs/{id}/progress",
      scope: Scope.Write,
      tag: "workers",
      summary:
        "Report a running job's progress (ojs-progress): `progress` 0..1 (clamped) or `percentage` 0..100, " +
        "`message`, `data`; ignored (`accepted: false`) when the job is not active; extends an HTTP lease",
      body: progressRequestSchema,
      response: fields({
        job_id: z.string(),
        state: z.string(),
        progress: z.unknown(),
        updated_at: z.unknown(),
        accepted: z.boolean().exactOptional(),
      }),
      handler: async (c, { params, body }) =>
        answer(c, await reportProgress(svc, params.id, updateOf(body), body.worker_id)),
    }),
    defineRoute({
      method: "GET",
      path: "/ojs/v1/jobs/{id}/progress",
      scope: Scope.Read,
      tag: "jobs",
      summary: "A job's progress in its current attempt; nulls when none was reported",
      response: fields({
        job_id: z.string(),
        state: z.string(),
        progress: z.unknown(),
        updated_at: z.unknown(),
        accepted: z.boolean().exactOptional(),
      }),
      handler: async (c, { params }) => answer(c, await getProgress(svc, params.id)),
    }),
    defineRoute({
      method: "POST",
      path: "/ojs/v1/workers/progress",
      scope: Scope.Write,
      tag: "workers",
      summary: "Report a running job's progress, the OJS JS SDK's form: `job_id`, `percentage` 0..100",
      body: workerProgressRequestSchema,
      response: fields({
        job_id: z.string(),
        state: z.string(),
        progress: z.unknown(),
        updated_at: z.unknown(),
        accepted: z.boolean().exactOptional(),
      }),
      handler: async (c, { body }) =>
        answer(c, await reportProgress(svc, body.job_id, updateOf(body), body.worker_id)),
    }),
  ];
}
