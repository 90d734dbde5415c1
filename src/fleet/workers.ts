/**
 * Agents as the API shows them, and operator control of one agent: drain (finish running jobs, take
 * no new ones; then cordoned), undrain, and replacing its labels at run time. Control is a record per
 * agent (`w.<host token>` in the fleet bucket) that the agent watches; it survives agent restarts.
 */
import { ConflictError, NotFoundError } from "../core/errors.js";
import { casUpdate, getJson } from "../store/infra/kvjson.js";
import { hostToken } from "../store/infra/topology.js";
import type { Controller } from "./controller.js";
import type { AgentView } from "./registry.js";
import { agentAlive, agentKey, agentView } from "./registry.js";
import { labelMatches, parseLabel } from "./target/index.js";
import type { QueueWorkerView } from "../worker/presence.js";
import { queueWorkerView } from "../worker/presence.js";

export interface AgentControl {
  drain: boolean;
  /** Replaces the agent's configured labels when set. */
  labels?: Record<string, string>;
  updated_at: number;
}

export const controlKey = (hostname: string) => `w.${hostToken(hostname)}`;

/** Whether a stored control record has the shape the API writes; agents ignore anything else. */
export function isAgentControl(v: unknown): v is AgentControl {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  const c = v as Record<string, unknown>;
  if (c.drain !== undefined && typeof c.drain !== "boolean") return false;
  if (c.labels === undefined || c.labels === null) return true;
  return (
    typeof c.labels === "object" &&
    !Array.isArray(c.labels) &&
    Object.values(c.labels).every((x) => typeof x === "string")
  );
}

export interface WorkerQuery {
  /** `key:value`, hierarchical like targets (`group:web` lists `group:web.dev` too). */
  label?: string;
  /** Include agents whose heartbeat stopped (kept in the registry for a while). @defaultValue false */
  includeOffline?: boolean;
}

export function listWorkers(c: Controller, q: WorkerQuery = {}): AgentView[] {
  const want = q.label === undefined ? undefined : parseLabel(q.label);
  const now = Date.now();
  return c.registry
    .agents()
    .map((e) => agentView(e, now))
    .filter((v) => q.includeOffline === true || v.online)
    .filter((v) => want === undefined || labelMatches(v.labels[want.key], want.value))
    .sort((a, b) => a.hostname.localeCompare(b.hostname));
}

/** Agents and queue workers as `GET /api/v1/workers` lists them. */
export type WorkerView = AgentView | QueueWorkerView;

export const WorkerKind = { Agent: "agent", Queue: "queue" } as const;
export type WorkerKind = (typeof WorkerKind)[keyof typeof WorkerKind];

/** Queue workers (SDK workers, agents' queue workers), online ones unless `includeOffline`, by id. */
export function listQueueWorkers(
  c: Controller,
  q: { includeOffline?: boolean; queue?: string } = {},
): QueueWorkerView[] {
  const now = Date.now();
  return c.registry
    .queueWorkers()
    .map((e) => queueWorkerView(e, now))
    .filter((v) => q.includeOffline === true || v.online)
    .filter((v) => q.queue === undefined || v.queues.includes(q.queue))
    .sort((a, b) => a.id.localeCompare(b.id));
}

/**
 * Both kinds: agents (filtered by `label`) then queue workers. A label filter or `kind: "agent"`
 * leaves queue workers out (they have no labels).
 */
export function listAllWorkers(c: Controller, q: WorkerQuery & { kind?: WorkerKind } = {}): WorkerView[] {
  const out: WorkerView[] = [];
  if (q.kind !== WorkerKind.Queue) out.push(...listWorkers(c, q));
  if (q.kind !== WorkerKind.Agent && q.label === undefined)
    out.push(
      ...listQueueWorkers(c, q.includeOffline === undefined ? {} : { includeOffline: q.includeOffline }),
    );
  return out;
}

export function getWorker(c: Controller, hostname: string): AgentView {
  const e = c.registry.agent(hostname);
  if (!e) throw new NotFoundError("worker", hostname);
  return agentView(e);
}

export async function readControl(c: Controller, hostname: string): Promise<AgentControl | undefined> {
  return (await getJson<AgentControl>(c.ctx.buckets.fleet, controlKey(hostname)))?.value;
}

export async function setControl(
  c: Controller,
  hostname: string,
  change: { drain?: boolean; labels?: Record<string, string> | null },
): Promise<AgentControl> {
  if (!c.registry.agent(hostname)) throw new NotFoundError("worker", hostname);
  const next = await casUpdate<AgentControl>(c.ctx.buckets.fleet, controlKey(hostname), (cur) => {
    const r: AgentControl = { drain: cur?.drain ?? false, updated_at: Date.now() };
    if (cur?.labels !== undefined) r.labels = cur.labels;
    if (change.drain !== undefined) r.drain = change.drain;
    if (change.labels === null) delete r.labels;
    else if (change.labels !== undefined) r.labels = change.labels;
    return r;
  });
  return next!;
}

/**
 * Forgets an agent that stopped (a decommissioned host): its registry entry goes, so targets that
 * match it no longer report it unreachable. A live agent is refused: stop it first (it would
 * re-register with its next heartbeat). Its control record (drain, labels) goes too.
 */
export async function forgetWorker(c: Controller, hostname: string): Promise<AgentView> {
  const e = c.registry.agent(hostname);
  if (!e) throw new NotFoundError("worker", hostname);
  if (agentAlive(e)) {
    throw new ConflictError(`Agent '${hostname}' is online; stop it before forgetting it.`, {
      details: { host: hostname, last_seen: new Date(e.seenAt).toISOString() },
    });
  }
  await c.ctx.buckets.agents.delete(agentKey(hostname));
  await c.ctx.buckets.fleet.delete(controlKey(hostname));
  return agentView(e);
}
