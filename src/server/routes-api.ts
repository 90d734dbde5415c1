/**
 * jetjob's own REST API (`/api/v1`), beside the OJS binding: listing and retrying jobs. Fleet,
 * worker and lock routes join it with their issues.
 */
import { ValidationError } from "../core/errors.js";
import { queueNameSchema } from "../core/schema.js";
import { allJobStates } from "../core/states.js";
import type { JobState } from "../core/states.js";
import type { Engine } from "../store/engine.js";
import { Scope } from "./auth.js";
import { ojsJson } from "./ojs.js";
import type { RouteDef } from "./route.js";
import { defineRoute } from "./route.js";

export function apiRoutes(engine: Engine): RouteDef[] {
  return [
    defineRoute({
      method: "GET",
      path: "/api/v1/jobs",
      scope: Scope.Read,
      tag: "jobs",
      summary: "A queue's jobs, newest first (?queue=&state=&limit=&cursor=)",
      handler: async (c, { query }) => {
        if (!query.queue || !queueNameSchema.safeParse(query.queue).success) {
          throw new ValidationError("queue is required and must be a valid queue name");
        }
        if (query.state !== undefined && !allJobStates.includes(query.state as JobState)) {
          throw new ValidationError(`state must be one of ${allJobStates.join(", ")}`);
        }
        const limit = query.limit === undefined ? undefined : Number(query.limit);
        if (limit !== undefined && (!Number.isInteger(limit) || limit < 1 || limit > 500)) {
          throw new ValidationError("limit must be an integer from 1 to 500");
        }
        const page = await engine.listJobs({
          queue: query.queue,
          ...(query.state === undefined ? {} : { state: query.state as JobState }),
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
      summary: "Get a job",
      handler: async (c, { params }) => ojsJson(c, 200, { job: await engine.get(params.id!) }),
    }),
    defineRoute({
      method: "POST",
      path: "/api/v1/jobs/{id}/retry",
      scope: Scope.Write,
      tag: "jobs",
      summary: "Run a discarded or cancelled job again, with fresh attempts",
      bodyOptional: true,
      parseBody: (raw) => raw,
      handler: async (c, { params }) => ojsJson(c, 200, { job: await engine.retryJob(params.id!) }),
    }),
  ];
}
