/**
 * Job listing and bulk operations on the data-plane paths the OJS CLI uses (`ojs jobs`, `ojs debug
 * failures`, `ojs bulk retry|cancel`): `GET /ojs/v1/jobs` and `POST /ojs/v1/jobs/bulk/{retry,cancel}`.
 * Neither is in the http-binding; they are the Admin API's job list and bulk operations
 * (routes-ojs-admin-jobs.ts) in the CLI's shapes: `{jobs, total}`, and `retried` / `cancelled` /
 * `failed` counts.
 *
 * The safety interlock stays: a bulk request naming its jobs (`job_ids`) is explicit and runs as sent;
 * one that selects by `filter` needs `confirm: true` like the Admin API's (the CLI's `--state` form
 * sends none and is refused with 400 saying so). Bulk delete and promote are the Admin API's only
 * (`/ojs/v1/admin/jobs/bulk/{delete,promote}`); here they are not served (404).
 */
import { z } from "zod";

import type { Engine } from "../store/engine.js";
import { Scope } from "./auth.js";
import { searchJobs } from "./ojs-admin-search.js";
import { requireConfirm } from "./ojs-admin-views.js";
import { ojsJson } from "./ojs.js";
import type { RouteDef } from "./route.js";
import { defineRoute } from "./route.js";
import type { BulkAction } from "./routes-ojs-admin-jobs.js";
import { bulkBodySchema, listTotal, runBulk, searchOf } from "./routes-ojs-admin-jobs.js";
import { queryInt } from "./paging.js";
import { bulkResultSchema, fields, jobSchema } from "./response-schemas.js";

export function ojsJobListRoutes(engine: Engine): RouteDef[] {
  const bulk = (action: BulkAction) =>
    defineRoute({
      method: "POST",
      path: `/ojs/v1/jobs/bulk/${action}`,
      scope: Scope.Write,
      tag: "jobs",
      summary: `${action === "retry" ? "Retry" : "Cancel"} the jobs listed in job_ids, or (with confirm: true) those a filter matches (as POST /ojs/v1/admin/jobs/bulk/${action})`,
      docBody: bulkBodySchema.partial({ confirm: true }),
      parseBody: (raw) => raw,
      response: bulkResultSchema,
      handler: async (c, { body }) => {
        const b =
          typeof body === "object" &&
          body !== null &&
          Array.isArray((body as Record<string, unknown>).job_ids)
            ? (body as Record<string, unknown>)
            : requireConfirm(body);
        return ojsJson(c, 200, await runBulk(engine, action, b));
      },
    });
  return [
    // Before `/ojs/v1/jobs/{id}/...` routes: "bulk" would match `{id}` there.
    bulk("retry"),
    bulk("cancel"),
    defineRoute({
      method: "GET",
      path: "/ojs/v1/jobs",
      scope: Scope.Read,
      tag: "jobs",
      query: z.object({
        queue: z.string().optional().describe("Only this queue's jobs"),
        state: z.string().optional().describe("Only jobs in this state"),
        type: z.string().optional().describe("Job type, exact or a prefix ending in *"),
        limit: queryInt(1, 500).default(25).describe("Most jobs to return"),
      }),
      summary:
        "Jobs of every queue (or one), newest first, filtered by state and type (the OJS CLI's `jobs`; the Admin API's GET /ojs/v1/admin/jobs pages)",
      response: fields({ jobs: z.array(jobSchema), total: z.int(), has_more: z.boolean() }),
      handler: async (c, { query }) => {
        const limit = query.limit;
        const s = searchOf(query);
        const [r, counted] = await Promise.all([searchJobs(engine, s, limit), listTotal(engine, s)]);
        return ojsJson(c, 200, {
          jobs: r.jobs,
          total: counted ?? r.jobs.length + (r.more ? 1 : 0),
          has_more: r.more,
        });
      },
    }),
  ];
}
