/**
 * The OJS HTTP binding, level 0 (and the parts of level 1 that level 0 tests use): enqueue, batch
 * enqueue, info, cancel, fetch, ack, nack, heartbeat, queues, events, manifest, health, reset.
 */
import type { Context } from "hono";

import type { NormalizedEnqueue } from "../core/envelope.js";
import { parseEnqueueRequest } from "../core/envelope.js";
import { ErrorCode, JetjobError, ValidationError } from "../core/errors.js";
import { enqueueRequestSchema, queueNameSchema } from "../core/schema.js";
import type { Engine } from "../store/engine.js";
import { Scope } from "./auth.js";
import { ojsJson, OJS_VERSION } from "./ojs.js";
import type { RouteDef } from "./route.js";
import { defineRoute } from "./route.js";
import {
  ackRequestSchema,
  batchRequestSchema,
  fetchRequestSchema,
  heartbeatRequestSchema,
  nackRequestSchema,
} from "./schemas.js";

export interface OjsRouteDeps {
  engine: Engine;
  version: string;
  startedAt: number;
  enableReset: boolean;
}

export function ojsRoutes(d: OjsRouteDeps): RouteDef[] {
  const { engine } = d;
  return [
    defineRoute<NormalizedEnqueue>({
      method: "POST",
      path: "/ojs/v1/jobs",
      scope: Scope.Write,
      tag: "jobs",
      summary: "Enqueue a job (OJS PUSH)",
      docBody: enqueueRequestSchema,
      parseBody: (raw) => parseEnqueueRequest(raw),
      status: 201,
      handler: async (c, { body }) => {
        const [job] = await engine.enqueueNormalized([body]);
        c.header("Location", `/ojs/v1/jobs/${job!.id}`);
        return ojsJson(c, 201, { job });
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
      handler: async (c, { body }) => {
        const jobs = await engine.enqueueBatch(body.jobs);
        return ojsJson(c, 201, { jobs, count: jobs.length });
      },
    }),
    defineRoute({
      method: "GET",
      path: "/ojs/v1/jobs/{id}",
      scope: Scope.Read,
      tag: "jobs",
      summary: "Get a job (OJS INFO)",
      handler: async (c, { params }) => ojsJson(c, 200, { job: await engine.get(params.id!) }),
    }),
    defineRoute({
      method: "DELETE",
      path: "/ojs/v1/jobs/{id}",
      scope: Scope.Write,
      tag: "jobs",
      summary: "Cancel a job (OJS CANCEL); 409 when it already finished",
      handler: async (c, { params }) => ojsJson(c, 200, { job: await engine.cancel(params.id!) }),
    }),
    defineRoute({
      method: "POST",
      path: "/ojs/v1/workers/fetch",
      scope: Scope.Write,
      tag: "workers",
      summary: "Claim up to `count` available jobs from the listed queues, in order",
      body: fetchRequestSchema,
      handler: async (c, { body }) => {
        const req = {
          queues: body.queues,
          count: body.count ?? 1,
          workerId: body.worker_id ?? "anonymous",
          ...(body.visibility_timeout_ms === undefined ? {} : { visibilityMs: body.visibility_timeout_ms }),
        };
        const jobs = await engine.fetch(req);
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
      handler: async (c, { body }) => ojsJson(c, 200, await engine.ack(body.job_id, body.result)),
    }),
    defineRoute({
      method: "POST",
      path: "/ojs/v1/workers/nack",
      scope: Scope.Write,
      tag: "workers",
      summary: "Report failure of an active job (OJS FAIL); retried or discarded per its retry policy",
      body: nackRequestSchema,
      handler: async (c, { body }) => {
        const req: Parameters<Engine["nack"]>[1] = {};
        if (body.error !== undefined) req.error = body.error;
        if (body.requeue !== undefined) req.requeue = body.requeue;
        return ojsJson(c, 200, await engine.nack(body.job_id, req));
      },
    }),
    defineRoute({
      method: "POST",
      path: "/ojs/v1/workers/heartbeat",
      scope: Scope.Write,
      tag: "workers",
      summary: "Extend the visibility timeout of a worker's active jobs",
      body: heartbeatRequestSchema,
      handler: async (c, { body }) => {
        const ids = new Set<string>();
        if (Array.isArray(body.active_jobs)) for (const id of body.active_jobs) ids.add(id);
        for (const id of body.active_job_ids ?? []) ids.add(id);
        if (body.job_id) ids.add(body.job_id);
        const r = await engine.heartbeat([...ids], body.visibility_timeout_ms);
        const state = r.directive === "quiet" || r.directive === "terminate" ? r.directive : "running";
        return ojsJson(c, 200, {
          state,
          directive: r.directive ?? "continue",
          jobs_extended: r.extended,
          server_time: new Date().toISOString(),
        });
      },
    }),
    defineRoute({
      method: "GET",
      path: "/ojs/v1/queues",
      scope: Scope.Read,
      tag: "queues",
      summary: "List queues",
      handler: async (c, { query }) => {
        const all = await engine.listQueues();
        const limit = clampInt(query.limit, 1, 1000, 100);
        const offset = clampInt(query.offset, 0, Number.MAX_SAFE_INTEGER, 0);
        const page = all.slice(offset, offset + limit).map((q) => ({
          name: q.name,
          status: q.paused ? "paused" : "active",
          paused: q.paused,
          created_at: new Date(q.createdAt).toISOString(),
        }));
        return ojsJson(c, 200, {
          queues: page,
          pagination: { total: all.length, limit, offset, has_more: offset + limit < all.length },
        });
      },
    }),
    defineRoute({
      method: "GET",
      path: "/ojs/v1/events",
      scope: Scope.Read,
      tag: "events",
      summary: "Recent lifecycle events, newest first (?types=a,b&queues=q&limit=n)",
      handler: async (c, { query }) => {
        const list = (v: string | undefined) =>
          v
            ? v
                .split(",")
                .map((s) => s.trim())
                .filter(Boolean)
            : undefined;
        const queues = list(query.queues ?? query.queue);
        for (const q of queues ?? []) {
          if (!queueNameSchema.safeParse(q).success)
            throw new ValidationError(`queues: '${q}' is not a valid queue name`);
        }
        const q: Parameters<Engine["events"]>[0] = { limit: clampInt(query.limit, 1, 1000, 50) };
        const types = list(query.types ?? query.type);
        if (types) q.types = types;
        if (queues) q.queues = queues;
        if (query.job_id) q.jobId = query.job_id;
        return ojsJson(c, 200, { events: await engine.events(q) });
      },
    }),
    defineRoute({
      method: "GET",
      path: "/ojs/manifest",
      scope: "public",
      tag: "system",
      summary: "Conformance manifest",
      handler: (c) => ojsJson(c, 200, manifest(d.version)),
    }),
    defineRoute({
      method: "GET",
      path: "/ojs/v1/health",
      scope: "public",
      tag: "system",
      summary: "Health of the server and its NATS backend",
      handler: (c) => health(c, d),
    }),
    defineRoute({
      method: "POST",
      path: "/ojs/v1/admin/reset",
      scope: Scope.Admin,
      tag: "system",
      summary: "Delete all jobs, queues and events (only with --enable-reset; for test runs)",
      handler: async (c) => {
        if (!d.enableReset) {
          throw new JetjobError(ErrorCode.Forbidden, "Reset is disabled on this server.", {
            hint: "Start the server with --enable-reset (or JETJOB_ENABLE_RESET=1) to allow it; never in production.",
          });
        }
        await engine.reset();
        return ojsJson(c, 200, { reset: true });
      },
    }),
  ];
}

export function manifest(version: string): Record<string, unknown> {
  return {
    specversion: OJS_VERSION,
    ojs_version: OJS_VERSION,
    implementation: { name: "jetjob", version, language: "typescript", homepage: "/docs" },
    conformance_level: 0,
    protocols: ["http"],
    backend: "nats-jetstream",
    capabilities: {
      batch_enqueue: true,
      cron_jobs: false,
      dead_letter: false,
      delayed_jobs: true,
      job_ttl: true,
      priority_queues: true,
      rate_limiting: false,
      schema_validation: false,
      unique_jobs: false,
      workflows: false,
      pause_resume: false,
    },
    extensions: [],
  };
}

export async function health(c: Context, d: OjsRouteDeps): Promise<Response> {
  const base = { version: d.version, uptime_seconds: Math.floor((Date.now() - d.startedAt) / 1000) };
  try {
    const latency = await Promise.race([
      d.engine.ping(),
      new Promise<never>((_, rej) => setTimeout(() => rej(new Error("timeout")), 2000)),
    ]);
    return ojsJson(c, 200, {
      status: "ok",
      ...base,
      backend: { type: "nats-jetstream", status: "ok", latency_ms: Math.round(latency * 100) / 100 },
    });
  } catch (err) {
    return ojsJson(c, 503, {
      status: "degraded",
      ...base,
      backend: {
        type: "nats-jetstream",
        status: "unavailable",
        error: err instanceof Error ? err.message : String(err),
      },
    });
  }
}

function clampInt(v: string | undefined, min: number, max: number, dflt: number): number {
  const n = v === undefined ? NaN : Number(v);
  if (!Number.isInteger(n)) return dflt;
  return Math.min(max, Math.max(min, n));
}
