/**
 * The OJS graceful-shutdown extension for HTTP workers (spec ojs-graceful-shutdown §5, conformance
 * ext-graceful-shutdown): a worker announces its lifecycle state with a beat, and the state is kept in
 * the worker registry (http-fetchers.ts), where `jetjob worker list`, `GET /api/v1/workers` and the
 * dashboard show it. A quiet, draining or terminated worker gets no jobs from `fetch`.
 * @module
 */
import { z } from "zod";

import { NotFoundError, ValidationError } from "../core/errors.js";
import type { Engine } from "../store/engine.js";
import {
  decodeQueueWorker,
  queueWorkerAlive,
  queueWorkerKey,
  WorkerLifecycleState,
} from "../worker/presence.js";
import { Scope } from "./auth.js";
import { beatState, noteHttpWorkerBeat } from "./http-fetchers.js";
import { ojsJson } from "./ojs.js";
import type { RouteDef } from "./route.js";
import { defineRoute } from "./route.js";
import { fields } from "./response-schemas.js";

const jobIds = z.array(z.string().max(100)).max(10_000);

export const beatRequestSchema = z
  .object({
    worker_id: z.string().min(1).max(200),
    /** `running`, `quiet`, `drain` or `terminate` (also `draining`, `terminated`). @defaultValue running */
    state: z.string().max(50).optional(),
    /** Running jobs: their number, or their ids (whose leases are then extended, like a heartbeat). */
    active_jobs: z.union([z.int().min(0), jobIds]).optional(),
    active_job_ids: jobIds.optional(),
    /** `true` without a `state`: the worker is draining. */
    shutdown: z.boolean().optional(),
    visibility_timeout_ms: z
      .int()
      .min(1)
      .max(24 * 3600_000)
      .optional(),
  })
  .loose();

export function ojsWorkerLifecycleRoutes(engine: Engine): RouteDef[] {
  return [
    defineRoute({
      method: "POST",
      path: "/ojs/v1/workers/beat",
      scope: Scope.Write,
      tag: "workers",
      summary:
        "A worker's beat with its lifecycle `state` (running, quiet, drain, terminate); a quiet or draining " +
        "worker gets no new jobs from fetch; listed active job ids have their leases extended",
      body: beatRequestSchema,
      response: fields({
        acknowledged: z.boolean(),
        worker_id: z.string(),
        state: z.string(),
        server_time: z.string(),
      }),
      handler: async (c, { body }) => {
        const raw = body.state ?? (body.shutdown === true ? "drain" : "running");
        const state = beatState(raw);
        if (state === undefined) {
          throw new ValidationError(`state: '${raw}' is not one of running, quiet, drain, terminate`, {
            details: { field: "state" },
          });
        }
        const ids = [
          ...(Array.isArray(body.active_jobs) ? body.active_jobs : []),
          ...(body.active_job_ids ?? []),
        ];
        const running = typeof body.active_jobs === "number" ? body.active_jobs : ids.length;
        await noteHttpWorkerBeat(engine, body.worker_id, state, running);
        const extended =
          ids.length > 0
            ? await engine.heartbeat(ids, body.visibility_timeout_ms, body.worker_id)
            : undefined;
        return ojsJson(c, 200, {
          acknowledged: true,
          worker_id: body.worker_id,
          state,
          // Tell a worker that stopped to stay stopped; the others carry on as they are.
          directive: state === WorkerLifecycleState.Terminated ? "terminate" : "continue",
          ...(extended ? { jobs_extended: extended.extended } : {}),
          ...(extended && extended.lost.length > 0 ? { jobs_lost: extended.lost } : {}),
          server_time: new Date().toISOString(),
        });
      },
    }),
    defineRoute({
      method: "GET",
      path: "/ojs/v1/workers/{id}/health",
      scope: Scope.Read,
      tag: "workers",
      summary:
        "A worker's registry entry: its lifecycle state and liveness; 200 while running and online, else 503",
      response: fields({
        worker_id: z.string(),
        state: z.string(),
        status: z.string(),
        online: z.boolean(),
        last_seen: z.unknown(),
        queues: z.unknown(),
        active_jobs: z.unknown(),
        via: z.unknown(),
      }),
      handler: async (c, { params }) => {
        const id = params.id;
        const e = await engine.ctx.buckets.agents.get(queueWorkerKey(id));
        const entry = e ? decodeQueueWorker(e) : undefined;
        if (!entry) throw new NotFoundError("worker", id);
        const online = queueWorkerAlive(entry);
        const state = entry.info.state ?? WorkerLifecycleState.Running;
        const healthy = online && state === WorkerLifecycleState.Running;
        return ojsJson(c, healthy ? 200 : 503, {
          worker_id: id,
          state,
          status: healthy ? "healthy" : "unavailable",
          online,
          last_seen: new Date(entry.seenAt).toISOString(),
          queues: entry.info.queues,
          active_jobs: entry.info.running,
          via: entry.info.via ?? "nats",
        });
      },
    }),
  ];
}
