/**
 * jetjob's own REST API (`/api/v1`), beside the OJS binding: listing and retrying jobs, and the
 * storage report. Fleet, worker and lock routes join it with their issues.
 */
import { z } from "zod";

import { zodToValidationError } from "../core/envelope.js";
import { ValidationError } from "../core/errors.js";
import { queueNameSchema } from "../core/schema.js";
import { allJobStates } from "../core/states.js";
import type { Controller } from "../fleet/controller.js";
import { isFleetId } from "../fleet/ids.js";
import type { FleetListQuery } from "../fleet/jobs.js";
import { getFleetJob, listFleetJobs, retryFleetJob } from "../fleet/jobs.js";
import type { Engine } from "../store/engine.js";
import { consumersByQueue } from "../worker/presence.js";
import { Scope } from "./auth.js";
import { ojsJson } from "./ojs.js";
import { queryInt } from "./paging.js";
import { hasFilter, SEARCH_MAX_JOBS, searchQueueJobs } from "./queue-job-search.js";
import type { RouteDef } from "./route.js";
import { defineRoute } from "./route.js";
import { fields, fleetJobViewSchema, jobSchema, openObject, queueStatsSchema } from "./response-schemas.js";

const retryBodySchema = z
  .object({
    target: z.string().min(1).max(1024).optional(),
    include_uncertain: z.boolean().optional(),
    timeout_ms: z.int().min(100).optional(),
  })
  .strict();

const fleetStatuses = [
  "running",
  "completed",
  "partial_failure",
  "failed",
  "timeout",
  "cancelled",
] as const satisfies ReadonlyArray<FleetListQuery["status"] & string>;

const jobListQuery = z.object({
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

function fleetListQuery(query: z.output<typeof jobListQuery>): FleetListQuery {
  return {
    ...(query.status === undefined ? {} : { status: query.status }),
    ...(query.op === undefined ? {} : { op: query.op }),
    ...(query.host === undefined ? {} : { host: query.host }),
    ...(query.limit === undefined ? {} : { limit: query.limit }),
    ...(query.cursor === undefined ? {} : { cursor: query.cursor }),
  };
}

export function apiRoutes(engine: Engine, fleet?: Controller): RouteDef[] {
  return [
    defineRoute({
      method: "GET",
      path: "/api/v1/storage",
      scope: Scope.Read,
      tag: "storage",
      summary:
        "Streams and buckets (messages, bytes, oldest entry), the housekeeper's walk per lane, the retention in force and the removals due next",
      response: fields({ storage: openObject }),
      handler: async (c) => ojsJson(c, 200, { storage: await engine.storage() }),
    }),
    defineRoute({
      method: "GET",
      path: "/api/v1/queues",
      scope: Scope.Read,
      tag: "queues",
      summary:
        "Every queue's job counts with its consumers (online queue workers taking it); `no_consumers` " +
        "flags an active queue with jobs waiting and nobody to run them",
      response: fields({
        queues: z.array(queueStatsSchema.extend({ consumers: z.int(), no_consumers: z.boolean() })),
      }),
      handler: async (c) => {
        const stats = await engine.allQueueStats();
        const consumers = consumersByQueue(fleet?.registry.queueWorkers() ?? []);
        return ojsJson(c, 200, {
          queues: stats.map((s) => {
            const n = consumers.get(s.name) ?? 0;
            return { ...s, consumers: n, no_consumers: !s.paused && n === 0 && s.available > 0 };
          }),
        });
      },
    }),
    defineRoute({
      method: "GET",
      path: "/api/v1/jobs",
      scope: Scope.Read,
      tag: "jobs",
      query: jobListQuery,
      summary:
        "With ?queue=: a queue's jobs, newest first (&state=&limit=&cursor=); with &type=, &id= or &text= a search " +
        `that reads at most ${SEARCH_MAX_JOBS} jobs per request and says how many it read (\`searched\`; \`next_cursor\` searches on). ` +
        "Without: targeted (fleet) jobs, newest first (?status=&op=&host=&limit=&cursor=)",
      response: fields({
        jobs: z.array(z.union([jobSchema, fleetJobViewSchema])),
        next_cursor: z.string().exactOptional(),
        searched: z.int().exactOptional(),
      }),
      handler: async (c, { query }) => {
        if (query.queue === undefined && fleet) {
          return ojsJson(c, 200, await listFleetJobs(fleet, fleetListQuery(query)));
        }
        if (query.queue === undefined) {
          throw new ValidationError("queue is required and must be a valid queue name");
        }
        const limit = query.limit;
        const filter = {
          ...(query.type ? { type: query.type } : {}),
          ...(query.id ? { id: query.id } : {}),
          ...(query.text ? { text: query.text } : {}),
        };
        if (hasFilter(filter)) {
          const found = await searchQueueJobs(
            engine,
            {
              queue: query.queue,
              limit: limit ?? 50,
              ...(query.state === undefined ? {} : { state: query.state }),
              ...(query.cursor === undefined ? {} : { cursor: query.cursor }),
            },
            filter,
          );
          return ojsJson(c, 200, found);
        }
        const page = await engine.listJobs({
          queue: query.queue,
          ...(query.state === undefined ? {} : { state: query.state }),
          ...(limit === undefined ? {} : { limit }),
          ...(query.cursor === undefined ? {} : { cursor: query.cursor }),
        });
        return ojsJson(c, 200, page);
      },
    }),
    defineRoute({
      method: "GET",
      path: "/api/v1/jobs/{id}",
      scope: Scope.Read,
      tag: "jobs",
      summary: "Get a job; a targeted job comes with per-host results and its timeline",
      response: fields({ job: z.union([jobSchema, fleetJobViewSchema]) }),
      handler: async (c, { params }) => {
        if (fleet && isFleetId(params.id)) {
          const job = await getFleetJob(fleet, params.id).catch(() => undefined);
          if (job) return ojsJson(c, 200, { job });
        }
        return ojsJson(c, 200, { job: await engine.get(params.id) });
      },
    }),
    defineRoute({
      method: "POST",
      path: "/api/v1/jobs/{id}/retry",
      scope: Scope.Write,
      tag: "jobs",
      summary:
        "Run a discarded or cancelled job again. A targeted job runs again as a new job on the hosts that did not complete (body: target, include_uncertain, timeout_ms)",
      bodyOptional: true,
      parseBody: (raw) => raw,
      response: fields({
        job: z.union([jobSchema, fleetJobViewSchema]),
        skipped: z.unknown().exactOptional(),
      }),
      handler: async (c, { params, body }) => {
        if (fleet && isFleetId(params.id)) {
          const parsed = retryBodySchema.safeParse(body ?? {});
          if (!parsed.success) throw zodToValidationError(parsed.error);
          const b = parsed.data;
          const r = await retryFleetJob(fleet, params.id, {
            ...(b.target === undefined ? {} : { target: b.target }),
            ...(b.include_uncertain === undefined ? {} : { includeUncertain: b.include_uncertain }),
            ...(b.timeout_ms === undefined ? {} : { timeoutMs: b.timeout_ms }),
            createdBy: c.get("principal"),
          });
          return ojsJson(c, 201, { job: r.job, skipped: r.skipped });
        }
        return ojsJson(c, 200, { job: await engine.retryJob(params.id) });
      },
    }),
  ];
}
