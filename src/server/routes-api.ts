/**
 * jetjob's own REST API (`/api/v1`), beside the OJS binding: listing and retrying jobs, and the
 * storage report. Fleet, worker and lock routes join it with their issues.
 */
import { z } from "zod";

import type { Controller } from "../fleet/controller.js";
import { isFleetId } from "../fleet/ids.js";
import type { Engine } from "../store/engine.js";
import type { UseCaseDeps } from "../usecases/deps.js";
import { parseInput } from "../usecases/deps.js";
import { fleetRetrySchema, retryFleetJob } from "../usecases/fleet-jobs.js";
import { getAnyJob, jobListQuery, listJobs, retryJob, SEARCH_MAX_JOBS } from "../usecases/jobs.js";
import { queuesWithConsumers, storageReport } from "../usecases/queues.js";
import { Scope } from "./auth.js";
import { ojsJson } from "./ojs.js";
import type { RouteDef } from "./route.js";
import { defineRoute } from "./route.js";
import { fields, fleetJobViewSchema, jobSchema, openObject, queueStatsSchema } from "./response-schemas.js";

export function apiRoutes(engine: Engine, fleet?: Controller): RouteDef[] {
  const d: UseCaseDeps = { engine, fleet };
  return [
    defineRoute({
      method: "GET",
      path: "/api/v1/storage",
      scope: Scope.Read,
      tag: "storage",
      summary:
        "Streams and buckets (messages, bytes, oldest entry), the housekeeper's walk per lane, the retention in force and the removals due next",
      response: fields({ storage: openObject }),
      handler: async (c) => ojsJson(c, 200, { storage: await storageReport(d) }),
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
      handler: async (c) => ojsJson(c, 200, { queues: await queuesWithConsumers(d) }),
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
      handler: async (c, { query }) => ojsJson(c, 200, await listJobs(d, query)),
    }),
    defineRoute({
      method: "GET",
      path: "/api/v1/jobs/{id}",
      scope: Scope.Read,
      tag: "jobs",
      summary: "Get a job; a targeted job comes with per-host results and its timeline",
      response: fields({ job: z.union([jobSchema, fleetJobViewSchema]) }),
      handler: async (c, { params }) => ojsJson(c, 200, { job: await getAnyJob(d, params.id) }),
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
          const r = await retryFleetJob(d, params.id, parseInput(fleetRetrySchema, body ?? {}), {
            principal: c.get("principal"),
          });
          return ojsJson(c, 201, { job: r.job, skipped: r.skipped });
        }
        return ojsJson(c, 200, { job: await retryJob(d, params.id) });
      },
    }),
  ];
}
