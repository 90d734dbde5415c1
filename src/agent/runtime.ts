/**
 * What a running fleet agent holds (agent.ts) and the small steps its parts share: its state and
 * registry entry, announcing it, reporting an error, and writing its events to a job's timeline.
 * Taking and running a dispatched job is agent/take-job.ts; reading dispatch messages and keeping to
 * the concurrency is agent/dispatch.ts.
 */
import type { Logger } from "../core/logger.js";
import type { FastKv } from "../store/infra/kvfast.js";
import type { AgentTimings } from "../fleet/options.js";
import type { AgentInfo, AgentState } from "../fleet/registry.js";
import { agentKey } from "../fleet/registry.js";
import { appendAgentEvent } from "../fleet/timeline.js";
import type { DispatchRequest, FleetRecord, TimelineEvent } from "../fleet/types.js";
import type { AgentContext } from "./context.js";
import type { AgentOp } from "./registry-ops.js";
import type { AgentOptions } from "./types.js";

/** One agent's state; every part of the agent reads and changes this one object. */
export interface AgentRuntime {
  o: AgentOptions;
  hostname: string;
  /** Changes with every start; shows a restart in the registry and on the timeline. */
  instance: string;
  log: Logger;
  timings: AgentTimings;
  concurrency: number;
  ctx: AgentContext;
  records: FastKv<FleetRecord>;
  ops: Map<string, AgentOp>;
  facts: AgentInfo["facts"];
  startedAt: string;
  /** Labels from the options or `setLabels`; an operator's control record overrides them. */
  configuredLabels: Record<string, string>;
  labels: Record<string, string>;
  /** Jobs running, by id, with what stops them. */
  running: Map<string, AbortController>;
  /** Dispatches not started yet (the agent runs `concurrency` at a time). */
  waiting: DispatchRequest[];
  /** Job id → highest epoch taken here (at most SEEN_LIMIT, oldest dropped). */
  seen: Map<string, number>;
  inFlight: Set<Promise<void>>;
  /** Running jobs stopped by a cancel notice. */
  cancelled: Set<string>;
  drain: boolean;
  /** The state last announced by `noteState`. */
  lastState: AgentState;
  closed: boolean;
}

/** Ready; draining while jobs still run after a drain; cordoned once they finished. */
export function agentState(s: AgentRuntime): AgentState {
  return s.drain ? (s.running.size > 0 ? "draining" : "cordoned") : "ready";
}

/** The agent's registry entry. */
export function agentInfo(s: AgentRuntime): AgentInfo {
  return {
    hostname: s.hostname,
    instance: s.instance,
    labels: s.labels,
    facts: s.facts,
    version: s.o.version ?? "0.1.0",
    pid: process.pid,
    started_at: s.startedAt,
    heartbeat_ms: s.timings.heartbeatMs,
    state: agentState(s),
    running: s.running.size,
    concurrency: s.concurrency,
    operations: [...s.ops.values()].map((x) => ({
      name: x.name,
      kind: x.kind,
      ...(x.description === "" ? {} : { description: x.description }),
      ...(x.argsSchema === undefined ? {} : { args_schema: x.argsSchema }),
    })),
    queues: s.o.queues ?? [],
  };
}

/** Writes the agent's registry entry (its heartbeat). */
export function announce(s: AgentRuntime): Promise<number> {
  return s.ctx.buckets.agents.put(agentKey(s.hostname), JSON.stringify(agentInfo(s)));
}

/** Announces the agent when its state changed (a job started or ended while draining). */
export function noteState(s: AgentRuntime): void {
  if (agentState(s) !== s.lastState) {
    s.lastState = agentState(s);
    void announce(s).catch((err: unknown) => report(s, err));
  }
}

/** Logs an error the agent goes on after (nothing once it is closed). */
export function report(s: AgentRuntime, err: unknown): void {
  if (!s.closed) s.log.warn("agent error", { error: err instanceof Error ? err.message : String(err) });
}

/** Appends this agent's event for a job to the job's timeline. */
export function hostEvent(
  s: AgentRuntime,
  e: TimelineEvent["e"],
  req: DispatchRequest,
  d?: Record<string, unknown>,
): Promise<unknown> {
  const ev: TimelineEvent & { h: string } = {
    e,
    h: s.hostname,
    at: Date.now(),
    ep: req.epoch,
    by: s.instance,
  };
  if (d !== undefined) ev.d = d;
  return appendAgentEvent(s.ctx, req.id, ev);
}
