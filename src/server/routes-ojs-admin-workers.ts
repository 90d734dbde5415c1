/**
 * OJS Admin API workers (ojs-admin-api §9), from jetjob's worker registry (worker/presence.ts,
 * fleet/registry.ts): queue workers (SDK workers and OJS HTTP workers, by worker id) and fleet agents
 * (by hostname). A worker is `running` while its heartbeats arrive, `stale` once they stopped (the
 * registry keeps it until its entry expires), and `quiet` when it is an agent being drained.
 *
 * - Quiet (§9.3): an OJS HTTP worker gets it in the answer to its next heartbeat
 *   (worker-directives.ts; the official SDKs stop polling on it); an agent is drained (the same
 *   control record as `POST /api/v1/workers/{host}/drain`): it finishes its running jobs and takes no
 *   new ones. NATS-direct SDK workers have no channel for it: refused (422 `unsupported`; stop the
 *   process with SIGTERM, which drains).
 * - Deregister (§9.4) forgets a stale worker's registry entry (409 while it is online). Its jobs need
 *   no rescheduling here: a job whose worker died is handed out again when its lease runs out.
 * - `POST /ojs/v1/admin/workers/directive` (the OJS CLI's `workers --quiet|--resume`) quiets or
 *   resumes every online agent and HTTP worker.
 */
import { z } from "zod";

import { ConflictError, ErrorCode, JetjobError, NotFoundError } from "../core/errors.js";
import type { Controller } from "../fleet/controller.js";
import type { WorkerView } from "../fleet/workers.js";
import { forgetWorker, listAllWorkers, readControl, setControl } from "../fleet/workers.js";
import { queueWorkerKey } from "../worker/presence.js";
import { setWorkerDirective, WorkerDirective, workerDirectives } from "./worker-directives.js";
import { Scope } from "./auth.js";
import { adminPage, adminPageQuery, pageOf } from "./ojs-admin-views.js";
import { ojsJson } from "./ojs.js";
import type { RouteDef } from "./route.js";
import { defineRoute } from "./route.js";
import { adminListSchema, fields, openObject, workerSchema } from "./response-schemas.js";

/** A worker in the admin API's shape (§9.1), with the names the OJS CLI reads beside the spec's. */
function workerItem(w: WorkerView, quiet: ReadonlyMap<string, WorkerDirective>): Record<string, unknown> {
  const isAgent = w.kind === "agent";
  const quieted = isAgent ? w.state !== "ready" : quiet.has(w.id);
  const state = !w.online ? "stale" : quieted ? "quiet" : "running";
  const metadata: Record<string, unknown> = { kind: w.kind };
  if (isAgent) {
    metadata.agent_state = w.state;
    metadata.labels = w.labels;
  } else {
    metadata.via = w.via ?? "nats";
    metadata.completed = w.completed;
    metadata.failed = w.failed;
  }
  return {
    id: isAgent ? w.hostname : w.id,
    kind: w.kind,
    // HTTP workers' host is unknown (empty): left out, so clients show none.
    ...((isAgent ? w.hostname : w.host) ? { hostname: isAgent ? w.hostname : w.host } : {}),
    state,
    directive: state === "quiet" ? "quiet" : "continue",
    queues: w.queues,
    concurrency: w.concurrency,
    active_jobs: w.running,
    started_at: w.started_at,
    last_heartbeat_at: w.last_seen,
    last_heartbeat: w.last_seen,
    version: w.version,
    pid: w.pid,
    metadata,
  };
}

function allWorkers(fleet: Controller | undefined): WorkerView[] {
  return fleet === undefined ? [] : listAllWorkers(fleet, { includeOffline: true });
}

/** The worker with this id: a queue worker's id, or an agent's hostname. */
function findWorker(fleet: Controller | undefined, id: string): WorkerView {
  const w = allWorkers(fleet).find((x) =>
    x.kind === "agent" ? x.hostname.toLowerCase() === id.toLowerCase() : x.id === id,
  );
  if (!w || fleet === undefined) throw new NotFoundError("worker", id);
  return w;
}

export function ojsAdminWorkerRoutes(fleet: Controller | undefined): RouteDef[] {
  return [
    defineRoute({
      method: "GET",
      path: "/ojs/v1/admin/workers",
      scope: Scope.Read,
      tag: "admin",
      query: adminPageQuery,
      summary:
        "Workers (queue workers and fleet agents) with their state (running, quiet, stale), queues and running jobs, and a summary; paged",
      response: adminListSchema(workerSchema).extend({ summary: openObject }),
      handler: async (c, { query }) => {
        const quiet = fleet ? await workerDirectives(fleet.ctx) : new Map<string, WorkerDirective>();
        const items = allWorkers(fleet).map((w) => workerItem(w, quiet));
        const summary = { total: items.length, running: 0, quiet: 0, stale: 0 };
        for (const w of items) summary[w.state as "running" | "quiet" | "stale"]++;
        return ojsJson(c, 200, { ...pageOf(items, adminPage(query)), summary });
      },
    }),
    defineRoute({
      method: "POST",
      path: "/ojs/v1/admin/workers/directive",
      scope: Scope.Admin,
      tag: "admin",
      body: z.object({ directive: z.enum(["quiet", "resume"]) }),
      summary:
        "Quiet or resume every online fleet agent and OJS HTTP worker (the OJS CLI's workers --quiet/--resume)",
      response: fields({ directive: z.string(), workers: z.int(), unaffected_workers: z.unknown() }),
      handler: async (c, { body }) => {
        const quiet = body.directive === "quiet";
        let n = 0;
        let unaffected = 0;
        for (const w of allWorkers(fleet).filter((x) => x.online)) {
          if (w.kind === "agent") await setControl(fleet!, w.hostname, { drain: quiet });
          else if (w.via === "http")
            await setWorkerDirective(fleet!.ctx, w.id, quiet ? WorkerDirective.Quiet : undefined);
          else {
            unaffected++; // NATS-direct workers take no directives (see the module comment).
            continue;
          }
          n++;
        }
        return ojsJson(c, 200, { directive: body.directive, workers: n, unaffected_workers: unaffected });
      },
    }),
    defineRoute({
      method: "GET",
      path: "/ojs/v1/admin/workers/{id}",
      scope: Scope.Read,
      tag: "admin",
      summary: "One worker (a queue worker's id, or an agent's hostname)",
      response: workerSchema,
      handler: async (c, { params }) => {
        const w = findWorker(fleet, params.id);
        const item = workerItem(w, await workerDirectives(fleet!.ctx));
        if (w.kind === "agent") {
          const control = await readControl(fleet!, w.hostname);
          if (control !== undefined) item.control = control;
        }
        return ojsJson(c, 200, item);
      },
    }),
    defineRoute({
      method: "POST",
      path: "/ojs/v1/admin/workers/{id}/quiet",
      scope: Scope.Admin,
      tag: "admin",
      summary:
        "Quiet a worker: it finishes its running jobs and takes no new ones (an OJS HTTP worker through its next heartbeat's answer, an agent by its drain)",
      bodyOptional: true,
      parseBody: (raw) => raw,
      response: fields({
        state: z.string(),
        directive: z.unknown().exactOptional(),
        control: z.unknown().exactOptional(),
      }),
      handler: async (c, { params }) => {
        const w = findWorker(fleet, params.id);
        if (w.kind === "queue" && w.via === "http") {
          await setWorkerDirective(fleet!.ctx, w.id, WorkerDirective.Quiet);
          return ojsJson(c, 200, {
            ...workerItem(w, new Map([[w.id, WorkerDirective.Quiet]])),
            state: "quiet",
          });
        }
        if (w.kind !== "agent") {
          throw new JetjobError(
            ErrorCode.Unsupported,
            `Worker '${w.id}' takes jobs straight from NATS; jetjob cannot signal it to quiet.`,
            { hint: "Stop the worker process with SIGTERM: it finishes its running jobs first." },
          );
        }
        const control = await setControl(fleet!, w.hostname, { drain: true });
        return ojsJson(c, 200, {
          ...workerItem(findWorker(fleet, w.hostname), new Map()),
          state: "quiet",
          directive: "quiet",
          control,
        });
      },
    }),
    defineRoute({
      method: "DELETE",
      path: "/ojs/v1/admin/workers/{id}",
      scope: Scope.Admin,
      tag: "admin",
      summary:
        "Forget a stale worker (409 while it is online); its jobs are handed out again when their leases run out",
      response: fields({ deregistered: z.boolean(), worker: workerSchema }),
      handler: async (c, { params }) => {
        const w = findWorker(fleet, params.id);
        if (w.kind === "agent")
          return ojsJson(c, 200, {
            deregistered: true,
            worker: workerItem(await forgetWorker(fleet!, w.hostname), new Map()),
          });
        if (w.online) {
          throw new ConflictError(`Worker '${w.id}' is online; stop it before deregistering it.`, {
            details: { worker_id: w.id, last_seen: w.last_seen },
          });
        }
        await fleet!.ctx.buckets.agents.delete(queueWorkerKey(w.id));
        await setWorkerDirective(fleet!.ctx, w.id, undefined);
        return ojsJson(c, 200, { deregistered: true, worker: workerItem(w, new Map()) });
      },
    }),
  ];
}
