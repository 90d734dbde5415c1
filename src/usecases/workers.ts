/**
 * The worker registry: fleet agents (labels, facts, state, running jobs) and queue workers, one agent
 * by hostname; drain, undrain and relabel an agent; forget one that stopped. Read from (and written
 * through) the fleet controller's registry view.
 */
import { z } from "zod";

import type { AgentView } from "../fleet/registry.js";
import { LABEL_KEY, LABEL_VALUE } from "../fleet/target/index.js";
import type { AgentControl, WorkerKind, WorkerView } from "../fleet/workers.js";
import {
  forgetWorker as forget,
  getWorker as get,
  listAllWorkers,
  listQueueWorkers as queueWorkers,
  listWorkers as agents,
  setControl,
} from "../fleet/workers.js";
import type { QueueWorkerView } from "../worker/presence.js";
import type { FleetDeps } from "./deps.js";
import { fleetOf } from "./deps.js";

export type { AgentControl, AgentView, QueueWorkerView, WorkerView };

interface WorkerFilter {
  /** `key:value`: only agents with this label (queue workers have none). */
  label?: string | undefined;
  includeOffline?: boolean | undefined;
}

const filter = (q: WorkerFilter) => ({
  ...(q.label === undefined ? {} : { label: q.label }),
  ...(q.includeOffline === undefined ? {} : { includeOffline: q.includeOffline }),
});

/** Fleet agents, by hostname. */
export const listAgents = (d: FleetDeps, q: WorkerFilter): AgentView[] => agents(fleetOf(d), filter(q));

/** Queue workers (SDK workers, agents' queue workers), by id. */
export const listQueueWorkers = (d: FleetDeps, q: WorkerFilter): QueueWorkerView[] =>
  queueWorkers(fleetOf(d), filter(q));

/** Workers online (and offline ones with `includeOffline`), of one kind or both. */
export function listWorkers(d: FleetDeps, q: WorkerFilter & { kind?: WorkerKind | undefined }): WorkerView[] {
  return listAllWorkers(fleetOf(d), { ...filter(q), ...(q.kind === undefined ? {} : { kind: q.kind }) });
}

/** One agent. */
export const getWorker = (d: FleetDeps, hostname: string): AgentView => get(fleetOf(d), hostname);

/** Drain (finish running jobs, take no new ones) or undrain an agent. */
export const drainWorker = (d: FleetDeps, hostname: string, drain: boolean): Promise<AgentControl> =>
  setControl(fleetOf(d), hostname, { drain });

/** The body of `PUT /api/v1/workers/{host}/labels`: null restores the agent's configured labels. */
export const labelsSchema = z
  .object({ labels: z.record(z.string().regex(LABEL_KEY), z.string().regex(LABEL_VALUE)).nullable() })
  .strict();

export const setWorkerLabels = (
  d: FleetDeps,
  hostname: string,
  body: z.output<typeof labelsSchema>,
): Promise<AgentControl> => setControl(fleetOf(d), hostname, { labels: body.labels });

/** Forgets an agent that stopped (409 while it is online). */
export const forgetWorker = (d: FleetDeps, hostname: string): Promise<AgentView> =>
  forget(fleetOf(d), hostname);
