/**
 * Fleet jobs and workers over NATS: the fleet use cases (usecases/fleet-jobs.ts, workers.ts) that the
 * API server's fleet routes call, on a fleet controller in this client's process.
 *
 * Why a controller here rather than a request to a server's: controllers work active-active on the
 * same NATS (fleet/controller.ts), and any of them may read, list, cancel, delete or retry any job.
 * A job this client creates is owned by its controller while the client is open (re-sends to silent
 * hosts, the deadline); when the client closes, its controller gives the job up and a server's
 * controller takes it over (fleet/reclaim.ts). So no server-side NATS service is needed and
 * both doors run the same code. The controller uses the default fleet timings and never takes over
 * other controllers' jobs (`reclaim: false`).
 */
import { activeTraceContext } from "../core/tracing.js";
import type { Controller } from "../fleet/controller.js";
import { createController } from "../fleet/controller.js";
import type { Engine } from "../store/engine.js";
import type { UseCaseDeps } from "../usecases/deps.js";
import { parseInput } from "../usecases/deps.js";
import * as fleetJobs from "../usecases/fleet-jobs.js";
import { queuesWithConsumers } from "../usecases/queues.js";
import * as workers from "../usecases/workers.js";
import type { FleetApi } from "./fleet.js";

/** The client's fleet controller (on the first fleet call). */
export function openController(engine: Engine): Promise<Controller> {
  return createController(engine.ctx, { reclaim: false });
}

export function createNatsFleetApi(deps: () => Promise<UseCaseDeps>): FleetApi {
  return {
    async create(body, o) {
      o.signal?.throwIfAborted();
      const traceparent = o.traceparent ?? activeTraceContext()?.traceparent;
      const parsed = parseInput(fleetJobs.fleetJobSchema, body);
      return fleetJobs.createFleetJob(await deps(), parsed, traceparent === undefined ? {} : { traceparent });
    },
    get: async (id) => fleetJobs.getFleetJob(await deps(), id),
    list: async (q) => fleetJobs.listFleetJobs(await deps(), q),
    cancel: async (id) => fleetJobs.cancelFleetJob(await deps(), id),
    delete: async (id) => fleetJobs.deleteFleetJob(await deps(), id),
    retry: async (id, body) =>
      fleetJobs.retryFleetJob(await deps(), id, parseInput(fleetJobs.fleetRetrySchema, body)),
    async *timeline(id, signal) {
      yield* fleetJobs.followFleetJob(await deps(), id, signal);
    },
    preview: async (target, op, onlyReady) =>
      fleetJobs.previewTarget(await deps(), { target, op, onlyReady }),
    agents: async (q) => workers.listAgents(await deps(), q),
    queueWorkers: async (q) => workers.listQueueWorkers(await deps(), q),
    queues: async () => queuesWithConsumers(await deps()),
    agent: async (host) => workers.getWorker(await deps(), host),
    drain: async (host, drain) => workers.drainWorker(await deps(), host, drain),
    setLabels: async (host, labels) =>
      workers.setWorkerLabels(await deps(), host, parseInput(workers.labelsSchema, { labels })),
    forget: async (host) => workers.forgetWorker(await deps(), host),
  };
}
