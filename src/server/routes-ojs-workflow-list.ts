/**
 * `GET /ojs/v1/workflows` (the admin UI's Workflows page: `?page&per_page[&state]`, `items` +
 * `pagination`; the OJS CLI's `workflow list`: `?limit[&state]`, `workflows` + `total`) and
 * `POST /ojs/v1/workflows/{id}/cancel` (the UI's cancel; the same as `DELETE /ojs/v1/workflows/{id}`).
 * Each item carries `steps_total`/`steps_completed` for every type (a group's or batch's jobs) and
 * `step_count` (the CLI's name).
 */
import type { Engine } from "../store/engine.js";
import { listWorkflows } from "../store/workflows/workflow-list.js";
import type { WorkflowView } from "../store/workflows/workflow-record.js";
import { z } from "zod";

import { Scope } from "./auth.js";
import { adminPage, adminPageQuery, adminPagination } from "./ojs-admin-views.js";
import { ojsJson } from "./ojs.js";
import type { RouteDef } from "./route.js";
import { defineRoute } from "./route.js";
import { adminPaginationSchema, fields, workflowBodySchema, workflowSchema } from "./response-schemas.js";

function listItem(v: WorkflowView): Record<string, unknown> {
  const total = v.steps_total ?? v.jobs_total ?? v.job_ids.length;
  return {
    ...v,
    steps_total: total,
    steps_completed: v.steps_completed ?? v.jobs_completed ?? 0,
    step_count: total,
  };
}

const listQuery = adminPageQuery.extend({
  state: z
    .enum(["running", "active", "pending", "completed", "failed", "cancelled"])
    .optional()
    .describe("Only workflows in this state (active = running; pending matches none)"),
});

export function ojsWorkflowListRoutes(engine: Engine): RouteDef[] {
  return [
    defineRoute({
      method: "GET",
      path: "/ojs/v1/workflows",
      scope: Scope.Read,
      tag: "workflows",
      query: listQuery,
      summary: "Workflows, newest first, paged (?page=&per_page= or ?limit=; &state=)",
      response: fields({
        items: z.array(workflowSchema),
        workflows: z.array(workflowSchema),
        total: z.int(),
        pagination: adminPaginationSchema,
      }),
      handler: async (c, { query }) => {
        const p = adminPage(query, 25);
        const r = await listWorkflows(engine.svc, {
          ...(query.state === undefined ? {} : { state: query.state }),
          skip: p.skip,
          limit: p.perPage,
        });
        const items = r.workflows.map(listItem);
        return ojsJson(c, 200, {
          items,
          workflows: items,
          total: r.total,
          pagination: adminPagination(p, r.total, p.skip + items.length < r.total),
        });
      },
    }),
    defineRoute({
      method: "POST",
      path: "/ojs/v1/workflows/{id}/cancel",
      scope: Scope.Write,
      tag: "workflows",
      summary: "Cancel a workflow and its unfinished jobs (as DELETE /ojs/v1/workflows/{id})",
      response: workflowBodySchema,
      handler: async (c, { params }) => {
        const w = await engine.cancelWorkflow(params.id);
        return ojsJson(c, 200, { ...w, workflow: w });
      },
    }),
  ];
}
