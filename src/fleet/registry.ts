/**
 * The live registry of agents: every agent writes `a.<host token>` in the agents bucket on each
 * heartbeat; controllers keep an in-memory copy from a KV watch. An entry is alive while it is younger
 * than `livenessMisses` of the agent's own heartbeat period (judged from the server's store time, so
 * an agent's clock does not matter). The same bucket holds controller heartbeats (`c.<id>`) and the
 * queue workers' entries (`q.<worker id token>`, worker/presence.ts).
 */
import type { ArgsSchema } from "./args.js";
import type { KV, KvEntry } from "@nats-io/kv";

import type { StoreContext } from "../store/infra/context.js";
import type { QueueWorkerEntry } from "../worker/presence.js";
import { QUEUE_WORKER_PREFIX, decodeQueueWorker } from "../worker/presence.js";
import { hostToken } from "../store/infra/topology.js";
import type { TargetCandidate } from "./target/index.js";
import { isAlive, fleetDefaults } from "./options.js";
import type { OperationKind } from "./types.js";

export interface AgentOperationInfo {
  name: string;
  kind: OperationKind;
  description?: string;
  /** JSON Schema (draft 2020-12) of the arguments; the API refuses a job whose args do not match. */
  args_schema?: ArgsSchema;
}

export type AgentState = "ready" | "draining" | "cordoned";

/** What an agent writes about itself on every heartbeat. */
export interface AgentInfo {
  hostname: string;
  /** Changes when the agent process restarts. */
  instance: string;
  labels: Record<string, string>;
  facts: Record<string, string | number | boolean>;
  version: string;
  pid: number;
  started_at: string;
  heartbeat_ms: number;
  state: AgentState;
  running: number;
  concurrency: number;
  /** What it offers: each operation's kind, and its argument schema (JSON Schema) when it has one. */
  operations: AgentOperationInfo[];
  queues: string[];
}

/** An agent as the API lists it. */
export interface AgentView extends AgentInfo {
  /** Tells agents from queue workers in `GET /api/v1/workers`. */
  kind: "agent";
  online: boolean;
  last_seen: string;
}

export interface AgentEntry {
  info: AgentInfo;
  /** Server store time of the last heartbeat, epoch ms. */
  seenAt: number;
}

export interface ControllerInfo {
  id: string;
  heartbeat_ms: number;
  active_jobs: number;
}

export const agentKey = (hostname: string) => `a.${hostToken(hostname)}`;
export const controllerKey = (id: string) => `c.${id}`;

const dec = new TextDecoder();

function decode<T>(e: KvEntry): T | undefined {
  if (e.operation !== "PUT") return undefined;
  try {
    return JSON.parse(dec.decode(e.value)) as T;
  } catch {
    return undefined;
  }
}

export function agentAlive(e: AgentEntry, now = Date.now(), misses = fleetDefaults.livenessMisses): boolean {
  return isAlive(now - e.seenAt, e.info.heartbeat_ms, misses);
}

/** A registry entry as a target candidate: labels, facts, and the reserved `host` label. */
export function candidateOf(e: AgentEntry): TargetCandidate & { entry: AgentEntry } {
  return {
    hostname: e.info.hostname,
    labels: e.info.labels,
    facts: e.info.facts,
    running: e.info.running,
    entry: e,
  };
}

export function agentView(e: AgentEntry, now = Date.now()): AgentView {
  return {
    kind: "agent",
    ...e.info,
    online: agentAlive(e, now),
    last_seen: new Date(e.seenAt).toISOString(),
  };
}

export interface RegistryView {
  /** Resolves once the current entries are loaded. */
  ready: Promise<void>;
  /** Every known agent (alive or not), by lowercased hostname. */
  agents(): AgentEntry[];
  agent(hostname: string): AgentEntry | undefined;
  /** Every known queue worker (SDK workers, an agent's queue worker), online or not. */
  queueWorkers(): QueueWorkerEntry[];
  /** Live controllers' ids. */
  liveControllers(now?: number): Set<string>;
  /** Called after every change. */
  onChange(listener: () => void): void;
  close(): void;
}

export function createRegistryView(ctx: StoreContext, onError: (err: unknown) => void): RegistryView {
  const kv: KV = ctx.buckets.agents;
  const agents = new Map<string, AgentEntry>();
  const controllers = new Map<string, { info: ControllerInfo; seenAt: number }>();
  const queueWorkers = new Map<string, QueueWorkerEntry>();
  const listeners: Array<() => void> = [];
  let stopped = false;
  let stop: (() => void) | undefined;

  const apply = (e: KvEntry) => {
    const seenAt = e.created.getTime();
    if (e.key.startsWith("a.")) {
      const info = decode<AgentInfo>(e);
      const k = e.key;
      if (!info) agents.delete(k);
      else {
        const cur = agents.get(k);
        if (!cur || cur.seenAt <= seenAt) agents.set(k, { info, seenAt });
      }
    } else if (e.key.startsWith(QUEUE_WORKER_PREFIX)) {
      const entry = decodeQueueWorker(e);
      if (!entry) queueWorkers.delete(e.key);
      else {
        const cur = queueWorkers.get(e.key);
        if (!cur || cur.seenAt <= entry.seenAt) queueWorkers.set(e.key, entry);
      }
    } else if (e.key.startsWith("c.")) {
      const info = decode<ControllerInfo>(e);
      if (!info) controllers.delete(e.key);
      else controllers.set(e.key, { info, seenAt });
    }
    for (const l of listeners) l();
  };

  const ready = (async () => {
    const iter = await kv.watch({ key: ">" });
    stop = () => iter.stop();
    if (stopped) iter.stop();
    void (async () => {
      for await (const e of iter) apply(e);
    })().catch(onError);
    // The watch replays current values too; read them directly so `ready` means loaded.
    const keys = await kv.keys(">");
    const all: string[] = [];
    for await (const k of keys) all.push(k);
    await Promise.all(
      all.map(async (k) => {
        const e = await kv.get(k);
        if (e) apply(e);
      }),
    );
  })();
  ready.catch(onError);

  return {
    ready,
    agents: () => [...agents.values()],
    agent: (hostname) => agents.get(agentKey(hostname)),
    queueWorkers: () => [...queueWorkers.values()],
    liveControllers(now = Date.now()) {
      const out = new Set<string>();
      for (const c of controllers.values()) {
        if (isAlive(now - c.seenAt, c.info.heartbeat_ms)) out.add(c.info.id);
      }
      return out;
    },
    onChange(l) {
      listeners.push(l);
    },
    close() {
      stopped = true;
      stop?.();
    },
  };
}
