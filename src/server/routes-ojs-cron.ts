/**
 * Operating one cron schedule (store/features/cron-control.ts), under both path forms the official clients
 * use: `/ojs/v1/cron/{name}` (ojs-cron §8.3, §8.5; the OJS CLI: detail, PATCH, trigger, history,
 * pause, resume) and `/ojs/v1/crons[/{id}]` (the admin UI's Crons page: a paged `items` list, detail,
 * PATCH `{enabled}`, DELETE). Register, list and delete by name stay in routes-ojs-admin.ts.
 *
 * Answers carry the spec's `cron_job` object and the same fields at the top level, with the UI's
 * names beside them: `id` (= name), `schedule` (= expression), `queue` (the template's queue).
 */
import { z } from "zod";

import type { CronView } from "../store/features/cron.js";
import { cronHistory, getCron, updateCron } from "../store/features/cron-control.js";
import type { Engine } from "../store/engine.js";
import { deleteCron, listCrons, setCronEnabled, triggerCron } from "../usecases/cron.js";
import { Scope } from "./auth.js";
import { adminPage, adminPageQuery, pageOf } from "./ojs-admin-views.js";
import { ojsJson } from "./ojs.js";
import { queryInt } from "./paging.js";
import type { RouteDef } from "./route.js";
import { defineRoute } from "./route.js";
import { adminListSchema, cronSchema, fields, jobSchema, openObject } from "./response-schemas.js";

/** A schedule with the admin UI's names beside the spec's. */
export function cronItem(v: CronView): Record<string, unknown> {
  const options = (v.options ?? {}) as Record<string, unknown>;
  const meta = options.meta;
  return {
    ...v,
    id: v.name,
    schedule: v.expression,
    queue: typeof options.queue === "string" ? options.queue : "default",
    ...(meta !== undefined && v.target === undefined ? { meta } : {}),
  };
}

const answer = (v: CronView) => ({ ...cronItem(v), cron_job: v });

const historyQuery = z.object({
  limit: queryInt(1, 100).default(10).describe("Runs to show, newest first (at most 100)"),
});

export function ojsCronRoutes(engine: Engine): RouteDef[] {
  const svc = engine.svc;
  const d = { engine };
  const byName = (path: string, param: "name" | "id") => {
    /** The schedule named by the path's `{name}` or `{id}` segment (always matched: empty never). */
    const nameOf = (params: Record<string, string>): string => params[param] ?? "";
    return [
      defineRoute({
        method: "GET",
        path: `${path}/{${param}}`,
        scope: Scope.Read,
        tag: "cron",
        summary: "One cron schedule (`cron_job`, and its fields at the top level)",
        response: cronSchema,
        handler: async (c, { params }) => ojsJson(c, 200, answer(await getCron(svc, nameOf(params)))),
      }),
      defineRoute({
        method: "PATCH",
        path: `${path}/{${param}}`,
        scope: Scope.Admin,
        tag: "cron",
        summary:
          "Change a cron schedule in place: enabled (pause/resume), expression, timezone, overlap_policy, job_template",
        parseBody: (raw) => raw,
        response: cronSchema,
        handler: async (c, { params, body }) =>
          ojsJson(c, 200, answer(await updateCron(svc, nameOf(params), body))),
      }),
      ...(["pause", "resume"] as const).map((op) =>
        defineRoute({
          method: "POST",
          path: `${path}/{${param}}/${op}`,
          scope: Scope.Admin,
          tag: "cron",
          summary:
            op === "pause"
              ? "Pause a cron schedule (enabled: false): it does not fire until resumed"
              : "Resume a paused cron schedule; ticks missed while paused are not fired",
          response: cronSchema,
          handler: async (c, { params }) =>
            ojsJson(c, 200, answer(await setCronEnabled(d, nameOf(params), op === "resume"))),
        }),
      ),
      defineRoute({
        method: "POST",
        path: `${path}/{${param}}/trigger`,
        scope: Scope.Admin,
        tag: "cron",
        summary: "Enqueue the schedule's job template once, now (meta.cron_trigger: manual)",
        status: 201,
        response: fields({ job_id: z.string(), job: jobSchema, cron: z.string() }),
        handler: async (c, { params }) => {
          const job = await triggerCron(d, nameOf(params));
          return ojsJson(c, 201, { job_id: job.id, job, cron: nameOf(params) });
        },
      }),
      defineRoute({
        method: "GET",
        path: `${path}/{${param}}/history`,
        scope: Scope.Read,
        tag: "cron",
        query: historyQuery,
        summary:
          "The jobs of the schedule's last ticks, newest first (?limit=, default 10); ticks that did not fire and jobs removed by retention are absent",
        response: fields({ name: z.string(), executions: z.array(openObject), total: z.int() }),
        handler: async (c, { params, query }) => {
          const executions = await cronHistory(svc, nameOf(params), query.limit);
          return ojsJson(c, 200, { name: nameOf(params), executions, total: executions.length });
        },
      }),
    ];
  };
  return [
    defineRoute({
      method: "GET",
      path: "/ojs/v1/crons",
      scope: Scope.Read,
      tag: "cron",
      query: adminPageQuery,
      summary: "Cron schedules by name, paged (?page=&per_page=): items with id, schedule, queue, enabled",
      response: adminListSchema(openObject),
      handler: async (c, { query }) => {
        const { items, pagination } = pageOf(await listCrons(d), adminPage(query, 25));
        return ojsJson(c, 200, { items: items.map(cronItem), pagination });
      },
    }),
    ...byName("/ojs/v1/cron", "name"),
    ...byName("/ojs/v1/crons", "id"),
    defineRoute({
      method: "DELETE",
      path: "/ojs/v1/crons/{id}",
      scope: Scope.Admin,
      tag: "cron",
      summary: "Delete a cron schedule",
      response: fields({ deleted: z.boolean(), name: z.string(), id: z.string(), cron_job: cronSchema }),
      handler: async (c, { params }) => {
        const v = await deleteCron(d, params.id);
        return ojsJson(c, 200, { deleted: true, name: v.name, id: v.name, cron_job: v });
      },
    }),
  ];
}
