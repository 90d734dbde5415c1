/**
 * Fleet routes under `/api/v1`: targeted jobs (create, cancel, delete, live per-host stream), agents
 * (list with `?label=`, drain/undrain, labels) and a target preview. Reading and retrying a job by id
 * shares `/api/v1/jobs/{id}` with queue jobs (routes-api.ts branches on the id).
 */
import type { Context } from "hono";
import { streamSSE } from "hono/streaming";
import { z } from "zod";

import type { Controller } from "../fleet/controller.js";
import { eventView } from "../fleet/fold.js";
import { fleetJobSchema } from "../fleet/request.js";
import { followTimeline } from "../fleet/timeline.js";
import type { FleetDeps } from "../usecases/deps.js";
import {
  cancelFleetJob,
  createFleetJob,
  deleteFleetJob,
  getFleetJob,
  previewTarget,
} from "../usecases/fleet-jobs.js";
import {
  drainWorker,
  forgetWorker,
  getWorker,
  labelsSchema,
  listWorkers,
  setWorkerLabels,
} from "../usecases/workers.js";
import { Scope } from "./auth.js";
import { queryFlag } from "./paging.js";
import { ojsJson } from "./ojs.js";
import type { RouteDef } from "./route.js";
import { defineRoute } from "./route.js";
import { createSseQueue, dropConnection } from "./sse-queue.js";
import { fields, fleetJobViewSchema, openObject, workerSchema } from "./response-schemas.js";

export function fleetRoutes(fleet: Controller): RouteDef[] {
  const d: FleetDeps = { fleet };
  return [
    defineRoute({
      method: "POST",
      path: "/api/v1/jobs",
      scope: Scope.Write,
      tag: "fleet",
      summary:
        "Run an operation on the agents a target selects (any, all, host:NAME, group:web, web-*, E@re, G@fact>=n, L@a,b, and/or/not); 422 no_targets when none matches",
      body: fleetJobSchema,
      status: 201,
      response: fields({ job: fleetJobViewSchema }),
      handler: async (c, { body }) => {
        const caller = { principal: c.get("principal"), traceparent: c.req.header("traceparent") };
        return ojsJson(c, 201, { job: await createFleetJob(d, body, caller) });
      },
    }),
    defineRoute({
      method: "POST",
      path: "/api/v1/jobs/{id}/cancel",
      scope: Scope.Write,
      tag: "fleet",
      summary:
        "Cancel a running targeted job: hosts without a result become cancelled; agents are told to stop",
      bodyOptional: true,
      parseBody: (raw) => raw,
      response: fields({ job: fleetJobViewSchema }),
      handler: async (c, { params }) => ojsJson(c, 200, { job: await cancelFleetJob(d, params.id) }),
    }),
    defineRoute({
      method: "DELETE",
      path: "/api/v1/jobs/{id}",
      scope: Scope.Write,
      tag: "fleet",
      summary: "Delete a finished targeted job with its results and timeline (409 while it runs)",
      response: fields({ deleted: z.boolean(), job_id: z.string() }),
      handler: async (c, { params }) => {
        await deleteFleetJob(d, params.id);
        return ojsJson(c, 200, { deleted: true, job_id: params.id });
      },
    }),
    defineRoute({
      method: "GET",
      path: "/api/v1/jobs/{id}/stream",
      scope: Scope.Read,
      tag: "fleet",
      queryToken: true,
      summary:
        "Server-Sent Events of a targeted job's timeline (stored events first, then live); ends after 'finished'",
      handler: async (c, { params }) => {
        await getFleetJob(d, params.id, { timeline: false }); // 404 before the stream starts
        return streamTimeline(c, fleet, params.id);
      },
    }),
    defineRoute({
      method: "GET",
      path: "/api/v1/workers",
      scope: Scope.Read,
      tag: "workers",
      query: z.object({
        label: z.string().optional().describe("Only agents with this label, e.g. group:web"),
        offline: queryFlag().describe("Include agents and queue workers that went offline"),
        kind: z
          .enum(["agent", "queue"])
          .optional()
          .describe("Only fleet agents, or only queue workers (SDK workers and agents' queue workers)"),
      }),
      summary:
        "Workers online, each with its `kind`: fleet agents (hostname, labels, facts, state, running jobs) " +
        "and queue workers (id, queues, concurrency, running jobs, host, last_seen) " +
        "(?kind=agent|queue, ?label=group:web, ?offline=true)",
      response: fields({ workers: z.array(workerSchema), total: z.int() }),
      handler: (c, { query }) => {
        const workers = listWorkers(d, {
          label: query.label,
          kind: query.kind,
          includeOffline: query.offline,
        });
        return ojsJson(c, 200, { workers, total: workers.length });
      },
    }),
    defineRoute({
      method: "GET",
      path: "/api/v1/workers/{host}",
      scope: Scope.Read,
      tag: "workers",
      summary: "One agent",
      response: fields({ worker: workerSchema }),
      handler: (c, { params }) => ojsJson(c, 200, { worker: getWorker(d, params.host) }),
    }),
    defineRoute({
      method: "DELETE",
      path: "/api/v1/workers/{host}",
      scope: Scope.Admin,
      tag: "workers",
      summary:
        "Forget an agent that stopped (a decommissioned host): targets no longer list it as unreachable; 409 while it is online",
      response: fields({ worker: workerSchema }),
      handler: async (c, { params }) => ojsJson(c, 200, { worker: await forgetWorker(d, params.host) }),
    }),
    ...(["drain", "undrain"] as const).map((verb) =>
      defineRoute({
        method: "POST",
        path: `/api/v1/workers/{host}/${verb}`,
        scope: Scope.Admin,
        tag: "workers",
        summary:
          verb === "drain"
            ? "Drain an agent: it finishes running jobs and takes no new ones (draining, then cordoned)"
            : "Undrain an agent: it takes jobs again",
        bodyOptional: true,
        parseBody: (raw) => raw,
        response: fields({ host: z.string(), control: openObject }),
        handler: async (c, { params }) => {
          const control = await drainWorker(d, params.host, verb === "drain");
          return ojsJson(c, 200, { host: params.host, control });
        },
      }),
    ),
    defineRoute({
      method: "PUT",
      path: "/api/v1/workers/{host}/labels",
      scope: Scope.Admin,
      tag: "workers",
      summary: "Replace an agent's labels at run time (null restores its configured labels)",
      body: labelsSchema,
      response: fields({ host: z.string(), control: openObject }),
      handler: async (c, { params, body }) => {
        const control = await setWorkerLabels(d, params.host, body);
        return ojsJson(c, 200, { host: params.host, control });
      },
    }),
    defineRoute({
      method: "GET",
      path: "/api/v1/targets/resolve",
      scope: Scope.Read,
      tag: "fleet",
      query: z.object({
        target: z.string().describe("A target expression, e.g. group:web and not host:web-3"),
        op: z.string().optional().describe("Only agents that can run this operation"),
        only_ready: queryFlag().describe("true: list nothing left out (as a job with only_ready would)"),
      }),
      summary:
        "What a target selects now, without running anything: the agents a job would go to (hosts, agents) and the hosts it names or matches that it would leave out, with why (left_out)",
      response: fields({
        target: z.string(),
        hosts: z.array(z.string()),
        agents: z.array(workerSchema),
        left_out: z.array(openObject),
      }),
      handler: (c, { query }) =>
        ojsJson(
          c,
          200,
          previewTarget(d, { target: query.target, op: query.op, onlyReady: query.only_ready }),
        ),
    }),
  ];
}

function streamTimeline(c: Context, fleet: Controller, id: string): Response {
  return streamSSE(c, async (stream) => {
    const following: { close?: () => void } = {};
    const q = createSseQueue({ onOverflow: () => following.close?.(), onGiveUp: () => dropConnection(c) });
    const follower = await followTimeline(fleet.ctx, id, (ev) => {
      q.push("timeline", eventView(ev));
      if (ev.e === "finished") q.end();
    });
    following.close = () => follower.close();
    try {
      await q.pump(stream);
    } finally {
      follower.close();
    }
  });
}
