/**
 * Targeted (fleet) jobs: create (the controller resolves the target and dispatches), read, list,
 * cancel, delete, retry on the hosts that did not complete, preview a target, and follow a job's
 * timeline live. Every function needs a fleet controller (deps.ts `fleetOf`): the API server's, or
 * the one the NATS client runs in its own process (client/nats-fleet.ts).
 */
import { z } from "zod";

import type { FleetJobPage, FleetListQuery, FleetRetryResult } from "../fleet/jobs.js";
import {
  cancelFleetJob as cancel,
  createdJobView,
  deleteFleetJob as remove,
  getFleetJob as get,
  listFleetJobs as list,
  retryFleetJob as retry,
} from "../fleet/jobs.js";
import { eventView } from "../fleet/fold.js";
import type { AgentView } from "../fleet/registry.js";
import { agentView } from "../fleet/registry.js";
import type { FleetJobBody } from "../fleet/request.js";
import { createRequestOf, fleetJobSchema } from "../fleet/request.js";
import { followTimeline } from "../fleet/timeline.js";
import type { FleetJobView, LeftOut, TimelineEventView } from "../fleet/types.js";
import type { Caller, FleetDeps } from "./deps.js";
import { fleetOf } from "./deps.js";
import { iteratePush } from "./live.js";

export type { FleetJobBody, FleetJobPage, FleetJobView, FleetListQuery, FleetRetryResult, TimelineEventView };
export { fleetJobSchema };

/** Runs `body.op` on the agents `body.target` selects (422 `no_targets` when none does). */
export async function createFleetJob(
  d: FleetDeps,
  body: FleetJobBody,
  caller: Caller = {},
): Promise<FleetJobView> {
  const rec = await fleetOf(d).create(
    createRequestOf(body, {
      ...(caller.principal === undefined ? {} : { createdBy: caller.principal }),
      ...(caller.traceparent === undefined ? {} : { traceparent: caller.traceparent }),
    }),
  );
  return createdJobView(rec);
}

/** A targeted job with its per-host results (and its timeline unless `timeline: false`). */
export const getFleetJob = (
  d: FleetDeps,
  id: string,
  o: { timeline?: boolean } = {},
): Promise<FleetJobView> => get(fleetOf(d), id, o);

/** Targeted jobs, newest first. */
export const listFleetJobs = (d: FleetDeps, q: FleetListQuery): Promise<FleetJobPage> => list(fleetOf(d), q);

/** Hosts without a result become cancelled; agents are told to stop. */
export const cancelFleetJob = (d: FleetDeps, id: string): Promise<FleetJobView> => cancel(fleetOf(d), id);

/** Deletes a finished job with its results and timeline (409 while it runs). */
export const deleteFleetJob = (d: FleetDeps, id: string): Promise<void> => remove(fleetOf(d), id);

/** The body of a targeted job's retry (`POST /api/v1/jobs/{id}/retry`). */
export const fleetRetrySchema = z
  .object({
    target: z.string().min(1).max(1024).optional(),
    include_uncertain: z.boolean().optional(),
    timeout_ms: z.int().min(100).optional(),
  })
  .strict();

/** Runs a finished job again as a new job on the hosts that did not complete (or `target`). */
export function retryFleetJob(
  d: FleetDeps,
  id: string,
  body: z.output<typeof fleetRetrySchema>,
  caller: Caller = {},
): Promise<FleetRetryResult> {
  return retry(fleetOf(d), id, {
    ...(body.target === undefined ? {} : { target: body.target }),
    ...(body.include_uncertain === undefined ? {} : { includeUncertain: body.include_uncertain }),
    ...(body.timeout_ms === undefined ? {} : { timeoutMs: body.timeout_ms }),
    ...(caller.principal === undefined ? {} : { createdBy: caller.principal }),
  });
}

/** What a target selects now: the agents a job would go to, and the hosts it would leave out with why. */
export interface TargetPreview {
  target: string;
  hosts: string[];
  agents: AgentView[];
  left_out: LeftOut[];
}

export function previewTarget(
  d: FleetDeps,
  q: { target: string; op?: string | undefined; onlyReady?: boolean | undefined },
): TargetPreview {
  const sel = fleetOf(d).resolve(q.target, q.op, { onlyReady: q.onlyReady === true });
  const agents = sel.dispatch.map((e) => agentView(e));
  return { target: q.target, hosts: agents.map((a) => a.hostname), agents, left_out: sel.leftOut };
}

/**
 * A job's timeline, stored events first, then live ones, through its `finished` event (the SSE
 * route `GET /api/v1/jobs/{id}/stream` sends the same events).
 */
export async function* followFleetJob(
  d: FleetDeps,
  id: string,
  signal?: AbortSignal,
): AsyncIterable<TimelineEventView> {
  const fleet = fleetOf(d);
  await get(fleet, id, { timeline: false }); // 404 before following
  yield* iteratePush<TimelineEventView>(
    {
      start: async (push) => {
        const follower = await followTimeline(fleet.ctx, id, (ev) => push(eventView(ev)));
        return () => follower.close();
      },
      done: (e) => e.event === "finished",
    },
    signal,
  );
}
