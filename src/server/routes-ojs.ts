/**
 * The OJS HTTP binding, jobs and workers: enqueue (single, batch), info, cancel, fetch, ack, nack,
 * heartbeat. Queues, dead letters, cron, workflows and system routes are in routes-ojs-admin.ts.
 */
import { z } from "zod";
import type { Context } from "hono";

import { enqueueRequestSchema } from "../core/schema.js";
import type { Controller } from "../fleet/controller.js";
import type { Engine } from "../store/engine.js";
import type { Caller, UseCaseDeps } from "../usecases/deps.js";
import { batchRequestSchema, cancelJob, enqueueJob, enqueueJobs, getJob } from "../usecases/jobs.js";
import {
  ackJob,
  ackRequestSchema,
  activateJob,
  fetchJobs,
  fetchRequestOf,
  fetchRequestSchema,
  heartbeat,
  heartbeatRequestSchema,
  nackJob,
  nackRequestSchema,
} from "../usecases/worker-reports.js";
import { Scope } from "./auth.js";
import { noteHttpFetcher, takesJobs } from "./http-fetchers.js";
import { workerDirective } from "./worker-directives.js";
import { setAnswerHeader } from "./node-response.js";
import { ojsJson } from "./ojs.js";
import type { RouteDef } from "./route.js";
import { defineRoute } from "./route.js";
import { fields, jobBodySchema, jobSchema } from "./response-schemas.js";

export interface OjsRouteDeps {
  engine: Engine;
  version: string;
  startedAt: number;
  enableReset: boolean;
  /** The worker registry, for the worker summary in the health answer (absent: no summary). */
  fleet?: Controller | undefined;
}

export function ojsJobRoutes(d: OjsRouteDeps): RouteDef[] {
  const { engine } = d;
  const uc: UseCaseDeps = { engine, fleet: d.fleet };
  return [
    defineRoute({
      method: "POST",
      path: "/ojs/v1/jobs",
      scope: Scope.Write,
      tag: "jobs",
      summary: "Enqueue a job (OJS PUSH)",
      docBody: enqueueRequestSchema,
      parseBody: (raw) => raw,
      status: 201,
      response: fields({ job: jobSchema, warnings: z.array(z.unknown()).exactOptional() }),
      handler: async (c, { body, principal }) => {
        const r = await enqueueJob(uc, body, caller(c, principal));
        setAnswerHeader(c, "Location", `/ojs/v1/jobs/${r.job.id}`);
        const p = r.pressure;
        if (p?.warning) {
          // ojs-backpressure §7.3: the queue is past its warning threshold.
          setAnswerHeader(c, "X-OJS-Queue-Depth", String(p.depth));
          setAnswerHeader(c, "X-OJS-Queue-Bound", String(p.bound));
          setAnswerHeader(c, "X-OJS-Queue-Pressure", String(p.pressure));
        }
        // 200 when a unique job with on_conflict "ignore" already existed.
        const answer = r.warnings ? { job: r.job, warnings: r.warnings } : { job: r.job };
        return ojsJson(c, r.created ? 201 : 200, answer);
      },
    }),
    defineRoute({
      method: "POST",
      path: "/ojs/v1/jobs/batch",
      scope: Scope.Write,
      tag: "jobs",
      summary: "Enqueue several jobs atomically: all are validated first, then stored",
      body: batchRequestSchema,
      status: 201,
      response: fields({ jobs: z.array(jobSchema), count: z.int() }),
      handler: async (c, { body, principal }) => {
        const jobs = await enqueueJobs(uc, body.jobs, caller(c, principal));
        return ojsJson(c, 201, { jobs, count: jobs.length });
      },
    }),
    defineRoute({
      method: "GET",
      path: "/ojs/v1/jobs/{id}",
      scope: Scope.Read,
      tag: "jobs",
      summary: "Get a job (OJS INFO)",
      response: jobSchema.extend({ job: jobSchema }),
      handler: async (c, { params }) => {
        const job = await getJob(uc, params.id);
        return ojsJson(c, 200, { ...jobHeadline(job), job });
      },
    }),
    defineRoute({
      method: "DELETE",
      path: "/ojs/v1/jobs/{id}",
      scope: Scope.Write,
      tag: "jobs",
      summary: "Cancel a job (OJS CANCEL); 409 when it already finished",
      response: jobBodySchema,
      handler: async (c, { params }) => ojsJson(c, 200, { job: await cancelJob(uc, params.id) }),
    }),
    defineRoute({
      method: "POST",
      path: "/ojs/v1/jobs/{id}/activate",
      scope: Scope.Write,
      tag: "jobs",
      summary: "Activate a job enqueued with options.pending (OJS ACTIVATE); 409 when it is not pending",
      bodyOptional: true,
      parseBody: (raw) => raw,
      response: jobBodySchema,
      handler: async (c, { params }) => ojsJson(c, 200, { job: await activateJob(uc, params.id) }),
    }),
    defineRoute({
      method: "POST",
      path: "/ojs/v1/workers/fetch",
      scope: Scope.Write,
      tag: "workers",
      summary: "Claim up to `count` available jobs from the listed queues, in order",
      body: fetchRequestSchema,
      response: fields({ jobs: z.array(jobSchema), job: jobSchema.exactOptional() }),
      handler: async (c, { body }) => {
        const req = fetchRequestOf(body);
        // A worker that announced quiet or drain (POST /ojs/v1/workers/beat) gets no new jobs.
        if (!(await takesJobs(engine, req.workerId))) return ojsJson(c, 200, { jobs: [] });
        // In the worker registry as an HTTP worker (best effort: a failed write only shows it offline).
        noteHttpFetcher(engine, req.workerId, req.queues, () => undefined);
        const jobs = await fetchJobs(uc, req);
        return ojsJson(c, 200, jobs.length > 0 ? { jobs, job: jobs[0] } : { jobs });
      },
    }),
    defineRoute({
      method: "POST",
      path: "/ojs/v1/workers/ack",
      scope: Scope.Write,
      tag: "workers",
      summary: "Report success of an active job (OJS ACK)",
      body: ackRequestSchema,
      response: fields({
        acknowledged: z.boolean(),
        id: z.string(),
        job_id: z.string(),
        state: z.string(),
        completed_at: z.string(),
        job: jobSchema,
      }),
      handler: async (c, { body }) => ojsJson(c, 200, await ackJob(uc, body)),
    }),
    defineRoute({
      method: "POST",
      path: "/ojs/v1/workers/nack",
      scope: Scope.Write,
      tag: "workers",
      summary: "Report failure of an active job (OJS FAIL); retried or discarded per its retry policy",
      body: nackRequestSchema,
      response: fields({ id: z.string(), job_id: z.string(), state: z.string() }),
      handler: async (c, { body }) => ojsJson(c, 200, await nackJob(uc, body)),
    }),
    defineRoute({
      method: "POST",
      path: "/ojs/v1/workers/heartbeat",
      scope: Scope.Write,
      tag: "workers",
      summary: "Extend the visibility timeout of a worker's active jobs",
      body: heartbeatRequestSchema,
      response: fields({
        state: z.string(),
        directive: z.unknown().exactOptional(),
        jobs_extended: z.unknown().exactOptional(),
        server_time: z.string(),
      }),
      handler: async (c, { body }) => {
        const [r, given] = await Promise.all([
          heartbeat(uc, body),
          // An operator's quiet (Admin API §9.3) travels in this answer (worker-directives.ts).
          body.worker_id ? workerDirective(engine.ctx, body.worker_id) : undefined,
        ]);
        if (given !== undefined && r.directive === undefined) r.directive = given;
        const state = r.directive === "quiet" || r.directive === "terminate" ? r.directive : "running";
        return ojsJson(c, 200, {
          state,
          directive: r.directive ?? "continue",
          jobs_extended: r.extended,
          ...(r.lost.length > 0 ? { jobs_lost: r.lost } : {}),
          server_time: new Date().toISOString(),
        });
      },
    }),
  ];
}

/** Who asks (the token's name) and the request's W3C trace context headers (invalid ones are ignored). */
function caller(c: Context, principal: { name: string } | undefined): Caller {
  return {
    principal: principal?.name,
    traceparent: c.req.header("traceparent"),
    tracestate: c.req.header("tracestate"),
  };
}

/**
 * The job's single-value fields (id, type, state, queue, attempt, priority, times, progress) and its
 * `error`, at the top level of `GET /ojs/v1/jobs/{id}` beside `job` (http-binding §6, read by the SDKs):
 * the official OJS CLI's `status` reads them there. Not args, result, meta or other objects: the
 * extra bytes stay bounded whatever the job carries. This is the hot read: measured +3.8 µs of
 * serialisation and +244 bytes (559 → 803) for a typical job, against ~1.2 ms a request (~0.3%).
 */
function jobHeadline(job: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(job)) {
    if (k === "job") continue;
    if (v === null || typeof v !== "object" || k === "error") out[k] = v;
  }
  return out;
}
