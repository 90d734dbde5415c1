/**
 * Which hosts a fleet job goes to, and which hosts the target names or matches but the job cannot
 * reach, with the reason. Operators read "completed 4/4" as "every host I meant did it": a host that
 * is offline, cordoned, draining, or lacks the operation, or a named host no agent has ever reported
 * as, must appear on the job (and count against it), not silently drop out.
 *
 * Agents are known from the registry, which keeps an agent's entry for {@link RECENTLY_SEEN_MS} after
 * its last heartbeat (then it is forgotten; an agent that stops cleanly leaves the fleet at once).
 * With `onlyReady`, only live, ready agents that offer the operation count (nothing is left out).
 * A pick-one target (`any`, `role:web:any`) picks among the agents that can run the job now; the
 * others are alternatives, not hosts the job was meant for.
 */
import { agentAlive } from "./registry.js";
import type { AgentEntry } from "./registry.js";
import { candidateOf } from "./registry.js";
import type { TargetExpr } from "./target/index.js";
import { matchesTarget, resolveTarget, targetPicksOne } from "./target/index.js";
import type { LeftOut } from "./types.js";

/** How long the registry remembers an agent after its last heartbeat (its KV entry's TTL). */
export const RECENTLY_SEEN_MS = 15 * 60_000;

export interface Selection {
  /** Agents the job is sent to. */
  dispatch: AgentEntry[];
  leftOut: LeftOut[];
  /** How many known agents (live or recently seen) the target matches. */
  matched: number;
}

export interface SelectOptions {
  op?: string | undefined;
  nowMs: number;
  livenessMisses: number;
  /** Only live, ready agents that offer the operation (leave nothing out). */
  onlyReady?: boolean;
  random?: () => number;
}

/** Why an agent the target matches cannot take the job now (undefined: it can). */
export function unavailable(e: AgentEntry, o: SelectOptions): LeftOut | undefined {
  const host = e.info.hostname;
  if (!agentAlive(e, o.nowMs, o.livenessMisses)) {
    return { host, state: "unreachable", reason: `offline: last seen ${new Date(e.seenAt).toISOString()}` };
  }
  if (e.info.state !== "ready") return { host, state: "skipped", reason: `the agent is ${e.info.state}` };
  if (o.op !== undefined && !e.info.operations.some((x) => x.name === o.op))
    return { host, state: "skipped", reason: `the agent does not offer ${o.op}` };
  return undefined;
}

/** Host names a target names outright (`web-01`, `host:web-01`, `L@a,b`), not under `not`. */
export function namedHosts(expr: TargetExpr): string[] {
  switch (expr.kind) {
    case "host":
      return [expr.name];
    case "list":
      return expr.hosts;
    case "and":
    case "or":
      return expr.items.flatMap(namedHosts);
    default:
      return [];
  }
}

export function selectHosts(expr: TargetExpr, agents: readonly AgentEntry[], o: SelectOptions): Selection {
  const matching = agents.filter((e) => matchesTarget(expr, candidateOf(e)));
  const able = matching.filter((e) => unavailable(e, o) === undefined);
  const dispatch = resolveTarget(expr, able.map(candidateOf), o.random ? { random: o.random } : {}).map(
    (c) => c.entry,
  );
  const matched = matching.length;
  // With nothing to run on, the reasons are always given (the refusal says why each host was left out).
  if (dispatch.length > 0 && (o.onlyReady === true || targetPicksOne(expr)))
    return { dispatch, leftOut: [], matched };
  const leftOut: LeftOut[] = [];
  for (const e of matching) {
    const why = unavailable(e, o);
    if (why) leftOut.push(why);
  }
  const known = new Set(agents.map((e) => e.info.hostname.toLowerCase()));
  for (const name of new Set(namedHosts(expr).map((n) => n.toLowerCase()))) {
    if (known.has(name)) continue;
    leftOut.push({
      host: name,
      state: "unreachable",
      reason: `unknown: no agent by this name has reported in the last ${RECENTLY_SEEN_MS / 60_000} minutes`,
    });
  }
  leftOut.sort((a, b) => a.host.localeCompare(b.host));
  return { dispatch, leftOut, matched };
}
