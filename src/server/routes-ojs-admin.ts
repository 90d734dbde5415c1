/**
 * The OJS HTTP binding beyond jobs and workers: queues (list, stats, pause, resume), dead letters,
 * cron, workflows, recent events (routes-ojs-events.ts), manifest, health and the test-only reset.
 */
import { z } from "zod";

import { ErrorCode, JetjobError } from "../core/errors.js";
import { queueNameSchema } from "../core/schema.js";
import { toRfc3339 } from "../core/time.js";
import { registerCron, deleteCron, listCrons } from "../usecases/cron.js";
import { deleteDeadLetter, listDeadLetters, retryDeadLetter } from "../usecases/dead-letters.js";
import type { UseCaseDeps } from "../usecases/deps.js";
import { listQueues, queueName, queueStats, setQueuePaused } from "../usecases/queues.js";
import { cancelWorkflow, createWorkflow, getWorkflow } from "../usecases/workflows.js";
import { Scope } from "./auth.js";
import { manifest } from "./manifest.js";
import { clearMaintenance } from "./routes-ojs-admin-maintenance.js";
import { clearWorkerDirectives } from "./worker-directives.js";
import { health, ready } from "./health.js";
import { ojsJson } from "./ojs.js";
import { pageOffset, pageQuery, paginate, pagination } from "./paging.js";
import type { RouteDef } from "./route.js";
import { defineRoute } from "./route.js";
import { ojsEventsListRoute } from "./routes-ojs-events.js";
import type { OjsRouteDeps } from "./routes-ojs.js";
import {
  cronSchema,
  fields,
  healthResponseSchema,
  jobBodySchema,
  jobSchema,
  openObject,
  paginationSchema,
  queueStatsSchema,
  readyResponseSchema,
  workflowBodySchema,
  workflowSchema,
} from "./response-schemas.js";

/** `name` if it is a valid queue name, else a validation error (usecases/queues.ts). */
export const queueParam = queueName;

export function ojsAdminRoutes(d: OjsRouteDeps): RouteDef[] {
  const { engine } = d;
  const uc: UseCaseDeps = { engine, fleet: d.fleet };
  return [
    defineRoute({
      method: "GET",
      path: "/ojs/v1/queues",
      scope: Scope.Read,
      tag: "queues",
      query: pageQuery,
      summary: "List queues (?limit=&cursor=, or &offset=)",
      response: fields({
        queues: z.array(
          fields({ name: z.string(), status: z.string(), paused: z.boolean(), created_at: z.string() }),
        ),
        pagination: paginationSchema,
      }),
      handler: async (c, { query }) => {
        const { page, pagination } = paginate(await listQueues(uc), query, 100);
        return ojsJson(c, 200, { queues: page, pagination });
      },
    }),
    ojsEventsListRoute(engine),
    defineRoute({
      method: "GET",
      path: "/ojs/manifest",
      scope: "public",
      tag: "system",
      summary: "Conformance manifest",
      response: fields({
        specversion: z.string(),
        ojs_version: z.string(),
        implementation: openObject,
        conformance_level: z.int(),
        protocols: z.array(z.string()),
        backend: z.string(),
        capabilities: openObject,
      }),
      handler: (c) => ojsJson(c, 200, manifest(d.version)),
    }),
    defineRoute({
      method: "GET",
      path: "/ojs/v1/health",
      scope: "public",
      tag: "system",
      summary: "Health of the server and its NATS backend, storage room and streams",
      response: healthResponseSchema,
      handler: (c) => health(c, d),
    }),
    defineRoute({
      method: "GET",
      path: "/ojs/v1/ready",
      scope: "public",
      tag: "system",
      summary: "Whether this server can take new jobs now (503 with the reasons when not)",
      response: readyResponseSchema,
      handler: (c) => ready(c, d),
    }),
    defineRoute({
      method: "POST",
      path: "/ojs/v1/admin/reset",
      scope: Scope.Admin,
      tag: "system",
      summary: "Delete all jobs, queues and events (only with --enable-reset; for test runs)",
      response: fields({ reset: z.boolean() }),
      handler: async (c) => {
        if (!d.enableReset) {
          throw new JetjobError(ErrorCode.Forbidden, "Reset is disabled on this server.", {
            hint: "Start the server with --enable-reset (or JETJOB_ENABLE_RESET=1) to allow it; never in production.",
          });
        }
        await engine.reset();
        // The Admin API's own state (maintenance mode, worker directives) goes with everything else.
        await clearMaintenance(engine);
        await clearWorkerDirectives(engine.ctx);
        return ojsJson(c, 200, { reset: true });
      },
    }),
    defineRoute({
      method: "GET",
      path: "/ojs/v1/queues/{name}/stats",
      scope: Scope.Read,
      tag: "queues",
      summary: "Counts of a queue's jobs by state, and whether it is paused",
      response: fields({
        queue: queueStatsSchema,
        name: z.string(),
        status: z.string(),
        paused: z.boolean(),
        stats: openObject,
        computed_at: z.string(),
      }),
      handler: async (c, { params }) => {
        const name = queueParam(params.name);
        const [stats, rec] = await Promise.all([queueStats(uc, name), engine.ctx.queues.get(name)]);
        const { paused } = stats;
        const counts: Record<string, unknown> = { ...stats };
        delete counts.name;
        delete counts.paused;
        // ojs-backpressure §8: stats carry the queue with its depth (the suite's EXT-BP-004 reads it).
        if (stats.max_depth !== undefined) counts.queue = name;
        return ojsJson(c, 200, {
          queue: queueField(stats),
          name,
          status: paused ? "paused" : "active",
          paused,
          ...(paused && rec?.pausedAt !== undefined ? { paused_at: toRfc3339(rec.pausedAt) } : {}),
          stats: counts,
          computed_at: new Date().toISOString(),
        });
      },
    }),
    defineRoute({
      method: "POST",
      path: "/ojs/v1/queues/{name}/pause",
      scope: Scope.Admin,
      tag: "queues",
      summary: "Pause a queue: jobs are still accepted but not handed out",
      bodyOptional: true,
      parseBody: (raw) => raw,
      response: fields({
        queue: openObject,
        name: z.string(),
        status: z.string(),
        paused: z.boolean(),
        paused_at: z.string().exactOptional(),
      }),
      handler: async (c, { params }) => {
        const r = await setQueuePaused(uc, params.name, true);
        return ojsJson(c, 200, {
          queue: queueField({ name: r.name, paused: true }),
          name: r.name,
          status: "paused",
          paused: true,
          paused_at: toRfc3339(r.pausedAt ?? Date.now()),
        });
      },
    }),
    defineRoute({
      method: "POST",
      path: "/ojs/v1/queues/{name}/resume",
      scope: Scope.Admin,
      tag: "queues",
      summary: "Resume a paused queue",
      bodyOptional: true,
      parseBody: (raw) => raw,
      response: fields({
        queue: openObject,
        name: z.string(),
        status: z.string(),
        paused: z.boolean(),
        resumed_at: z.string().exactOptional(),
      }),
      handler: async (c, { params }) => {
        const r = await setQueuePaused(uc, params.name, false);
        return ojsJson(c, 200, {
          queue: queueField({ name: r.name, paused: false }),
          name: r.name,
          status: "active",
          paused: false,
          resumed_at: new Date().toISOString(),
        });
      },
    }),
    defineRoute({
      method: "GET",
      path: "/ojs/v1/dead-letter",
      scope: Scope.Read,
      tag: "dead-letter",
      query: pageQuery.extend({
        queue: queueNameSchema.optional().describe("Only dead letters of this queue"),
      }),
      summary:
        "Jobs discarded with on_exhaustion dead_letter, newest first (?queue=&limit=&cursor=, or &offset=)",
      response: fields({ jobs: z.array(jobSchema), total: z.int(), pagination: paginationSchema }),
      handler: async (c, { query }) => {
        const limit = query.limit ?? 100;
        const offset = pageOffset(query);
        const page = await listDeadLetters(uc, { queue: query.queue, limit, offset });
        return ojsJson(c, 200, {
          jobs: page.jobs,
          total: page.total, // beside pagination.total: the OJS CLI's `dead-letter` reads it here
          pagination: pagination(page.total, limit, offset, page.jobs.length),
        });
      },
    }),
    defineRoute({
      method: "POST",
      path: "/ojs/v1/dead-letter/{id}/retry",
      scope: Scope.Write,
      tag: "dead-letter",
      summary: "Retry a dead letter: back to available with fresh attempts",
      bodyOptional: true,
      parseBody: (raw) => raw,
      response: jobBodySchema,
      handler: async (c, { params }) => ojsJson(c, 200, { job: await retryDeadLetter(uc, params.id) }),
    }),
    defineRoute({
      method: "DELETE",
      path: "/ojs/v1/dead-letter/{id}",
      scope: Scope.Write,
      tag: "dead-letter",
      summary: "Remove a job from the dead-letter queue",
      response: fields({ deleted: z.boolean(), job_id: z.string() }),
      handler: async (c, { params }) => ojsJson(c, 200, await deleteDeadLetter(uc, params.id)),
    }),
    defineRoute({
      method: "GET",
      path: "/ojs/v1/cron",
      scope: Scope.Read,
      tag: "cron",
      query: pageQuery.extend({
        enabled: z.string().optional().describe("Only schedules with enabled equal to this (true or false)"),
      }),
      summary: "List cron schedules by name (?limit=&cursor=, or &offset=)",
      response: fields({
        crons: z.array(cronSchema),
        cron_jobs: z.array(cronSchema),
        pagination: paginationSchema,
      }),
      handler: async (c, { query }) => {
        const on = query.enabled; // ojs-cron §8.2: ?enabled=true|false
        const all = (await listCrons(uc)).filter((v) => on === undefined || String(v.enabled) === on);
        const { page, pagination } = paginate(all, query, 50);
        return ojsJson(c, 200, { crons: page, cron_jobs: page, pagination });
      },
    }),
    defineRoute({
      method: "POST",
      path: "/ojs/v1/cron",
      scope: Scope.Admin,
      tag: "cron",
      summary:
        "Register (or replace) a cron schedule; a job_template with a target ({op, target, args?, timeout_ms?, only_ready?}) runs a fleet job at each tick",
      parseBody: (raw) => raw,
      status: 201,
      response: fields({ cron: cronSchema, cron_job: cronSchema }),
      handler: async (c, { body }) => {
        // Upsert (ojs-cron §8.1): 201 for a new name, 200 when it replaced the schedule of that name.
        const { cron, created } = await registerCron(uc, body);
        return ojsJson(c, created ? 201 : 200, { cron, cron_job: cron });
      },
    }),
    defineRoute({
      method: "DELETE",
      path: "/ojs/v1/cron/{name}",
      scope: Scope.Admin,
      tag: "cron",
      summary: "Delete a cron schedule",
      response: fields({ deleted: z.boolean(), name: z.string(), cron: cronSchema, cron_job: cronSchema }),
      handler: async (c, { params }) => {
        const cron = await deleteCron(uc, params.name);
        return ojsJson(c, 200, { deleted: true, name: cron.name, cron, cron_job: cron });
      },
    }),
    defineRoute({
      method: "POST",
      path: "/ojs/v1/workflows",
      scope: Scope.Write,
      tag: "workflows",
      summary:
        "Create a chain, group or batch workflow, or one from steps with depends_on (http-binding §14.1) that forms one of these",
      parseBody: (raw) => raw,
      status: 201,
      response: workflowBodySchema,
      handler: async (c, { body, principal }) => {
        const workflow = await createWorkflow(uc, body, { principal: principal?.name });
        c.header("Location", `/ojs/v1/workflows/${workflow.id}`);
        return ojsJson(c, 201, workflowBody(workflow));
      },
    }),
    defineRoute({
      method: "GET",
      path: "/ojs/v1/workflows/{id}",
      scope: Scope.Read,
      tag: "workflows",
      summary: "Get a workflow's state and progress",
      response: workflowBodySchema,
      handler: async (c, { params }) => ojsJson(c, 200, workflowBody(await getWorkflow(uc, params.id))),
    }),
    defineRoute({
      method: "DELETE",
      path: "/ojs/v1/workflows/{id}",
      scope: Scope.Write,
      tag: "workflows",
      summary: "Cancel a workflow and its unfinished jobs",
      response: fields({ workflow: workflowSchema }),
      handler: async (c, { params }) => ojsJson(c, 200, { workflow: await cancelWorkflow(uc, params.id) }),
    }),
  ];
}

/**
 * A workflow answer: `workflow` (http-binding §14, read by the JS SDK) and the same fields again at the
 * top level, where the official OJS CLI (`workflow create/status`) and admin UI (workflow drawer, builder)
 * read them.
 */
function workflowBody(w: object): Record<string, unknown> {
  return { ...w, workflow: w };
}

/**
 * The `queue` field of queue stats, pause and resume: an object with the name, `paused` and (stats)
 * the counts. The http-binding (§11.2-11.4) has the queue's name there, but the conformance suite
 * (L4-STATS-001, L4-PAUSE-001/002, L4-BULK-001/003) reads `queue.name`, `queue.paused` and
 * `queue.available`, with the same request headers an OJS client sends: one field cannot be both.
 * The spec's other fields (`status`, `stats`, `paused_at`, `resumed_at`) are at the top level, with
 * `name` and `paused`, which is what jetjob's own clients read.
 */
function queueField(q: { name: string; paused: boolean }): Record<string, unknown> {
  return q;
}
