/**
 * OJS Admin API workers (ojs-admin-api §9), from jetjob's worker registry (worker/presence.ts,
 * fleet/registry.ts): queue workers (SDK workers and OJS HTTP workers, by worker id) and fleet agents
 * (by hostname). A worker is `running` while its heartbeats arrive, `stale` once they stopped (the
 * registry keeps it until its entry expires), and `quiet` when it is an agent being drained.
 *
 * - Quiet (§9.3) is the agent's drain (the same control record as `POST /api/v1/workers/{host}/drain`):
 *   it finishes its running jobs and takes no new ones. Queue workers have no control channel in
 *   jetjob, so quieting one is refused (422 `unsupported`; stop the process with SIGTERM, which drains).
 * - Deregister (§9.4) forgets a stale worker's registry entry (409 while it is online). Its jobs need
 *   no rescheduling here: a job whose worker died is handed out again when its lease runs out.
 * - `POST /ojs/v1/admin/workers/directive` (the OJS CLI's `workers --quiet|--resume`) drains or
 *   undrains every agent.
 */
import { z } from "zod";

import { ConflictError, ErrorCode, JetjobError, NotFoundError } from "../core/errors.js";
import type { Controller } from "../fleet/controller.js";
import type { WorkerView } from "../fleet/workers.js";
import { forgetWorker, listAllWorkers, readControl, setControl } from "../fleet/workers.js";
import { queueWorkerKey } from "../worker/presence.js";
import { Scope } from "./auth.js";
import { adminPage, adminPageQuery, pageOf } from "./ojs-admin-views.js";
import { ojsJson } from "./ojs.js";
import type { RouteDef } from "./route.js";
import { defineRoute } from "./route.js";

/** A worker in the admin API's shape (§9.1), with the names the OJS CLI reads beside the spec's. */
function workerItem(w: WorkerView): Record<string, unknown> {
  const isAgent = w.kind === "agent";
  const state = !w.online ? "stale" : isAgent && w.state !== "ready" ? "quiet" : "running";
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
      handler: (c, { query }) => {
        const items = allWorkers(fleet).map(workerItem);
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
      summary: "Quiet (drain) or resume every fleet agent (the OJS CLI's workers --quiet/--resume)",
      handler: async (c, { body }) => {
        const drain = body.directive === "quiet";
        const agents = allWorkers(fleet).filter((w) => w.kind === "agent" && w.online);
        for (const a of agents) if (a.kind === "agent") await setControl(fleet!, a.hostname, { drain });
        return ojsJson(c, 200, {
          directive: body.directive,
          workers: agents.length,
          // Queue workers have no control channel (see the module comment).
          unaffected_queue_workers: allWorkers(fleet).filter((w) => w.kind === "queue" && w.online).length,
        });
      },
    }),
    defineRoute({
      method: "GET",
      path: "/ojs/v1/admin/workers/{id}",
      scope: Scope.Read,
      tag: "admin",
      summary: "One worker (a queue worker's id, or an agent's hostname)",
      handler: async (c, { params }) => {
        const w = findWorker(fleet, params.id!);
        const item = workerItem(w);
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
      summary: "Quiet an agent: it finishes its running jobs and takes no new ones (drain)",
      bodyOptional: true,
      parseBody: (raw) => raw,
      handler: async (c, { params }) => {
        const w = findWorker(fleet, params.id!);
        if (w.kind !== "agent") {
          throw new JetjobError(
            ErrorCode.Unsupported,
            `Worker '${w.id}' is a queue worker; jetjob cannot signal queue workers to quiet.`,
            { hint: "Stop the worker process with SIGTERM: it finishes its running jobs first." },
          );
        }
        const control = await setControl(fleet!, w.hostname, { drain: true });
        return ojsJson(c, 200, {
          ...workerItem(findWorker(fleet, w.hostname)),
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
      handler: async (c, { params }) => {
        const w = findWorker(fleet, params.id!);
        if (w.kind === "agent")
          return ojsJson(c, 200, {
            deregistered: true,
            worker: workerItem(await forgetWorker(fleet!, w.hostname)),
          });
        if (w.online) {
          throw new ConflictError(`Worker '${w.id}' is online; stop it before deregistering it.`, {
            details: { worker_id: w.id, last_seen: w.last_seen },
          });
        }
        await fleet!.ctx.buckets.agents.delete(queueWorkerKey(w.id));
        return ojsJson(c, 200, { deregistered: true, worker: workerItem(w) });
      },
    }),
  ];
}
