/**
 * What a worker logged in as its own NATS identity holds (identity-worker.ts), and the small pure
 * rules its parts share: one object its relay parts (identity-jobs.ts) and its start and close read
 * and change.
 */
import { EventEmitter } from "node:events";

import type { NatsConnection, Subscription } from "@nats-io/nats-core";

import { agentUser } from "../access/identities.js";
import { workerToken, workerUser } from "../access/worker-access.js";
import { uuidv7 } from "../core/ids.js";
import type { Logger } from "../core/logger.js";
import { createLogger } from "../core/logger.js";
import type { ResolvedTopology } from "../store/infra/topology.js";
import { hostToken, resolveTopology } from "../store/infra/topology.js";
import type { WorkerEmit } from "./emit.js";
import { workerEmit } from "./emit.js";
import type { HandlerOutcome, JobCancel } from "./handler.js";
import type { RelayAsk } from "./relay-client.js";
import type { WorkerOptions, WorkerStats } from "./types.js";
import { noStats } from "./runner-state.js";

const DEFAULT_VISIBILITY_MS = 30_000;

/** A job the worker runs, with what stops it. */
export interface Running {
  id: string;
  queue: string;
  cancel: JobCancel;
}

/** One identity worker's state. */
export interface IdentityState {
  options: WorkerOptions;
  kind: "agent" | "worker";
  /** The identity's name, lowercase. */
  name: string;
  /** Its NATS user (`agent:…` or `worker:…`). */
  user: string;
  /** Its token in relay subjects. */
  principal: string;
  instance: string;
  id: string;
  logger: Logger;
  topology: ResolvedTopology;
  queues: string[];
  concurrency: number;
  /** The lease of a fetched job, extended by each beat. */
  visibilityMs: number;
  beatMs: number;
  emitter: EventEmitter;
  emit: WorkerEmit;
  stats: WorkerStats;
  running: Map<string, Running>;
  /** Per queue: wakes its idle poll (an event said it may have work). */
  wakers: Map<string, () => void>;
  /** Polls waiting for a free slot. */
  capacityWaiters: Set<() => void>;
  subs: Subscription[];
  stopping: AbortController;
  nc: NatsConnection | undefined;
  ownConnection: boolean;
  ask: RelayAsk;
  closing: Promise<void> | undefined;
  beatTimer: NodeJS.Timeout | undefined;
  /** One poll per queue. */
  loops: Promise<void>[];
  /** Set when close() ran out of time and stopped the running handlers. */
  forced: boolean;
}

/** An identity worker's state before it connects. */
export function newIdentityState(options: WorkerOptions): IdentityState {
  const identity = options.identity!;
  const kind = identity.kind ?? "worker";
  const name = identity.name.toLowerCase();
  const user = kind === "agent" ? agentUser(name) : workerUser(name);
  const instance = options.workerId ?? uuidv7().slice(-12);
  const id = `${user}/${instance}`;
  const logger = (options.logger ?? createLogger()).child({ worker_id: id });
  const visibilityMs = DEFAULT_VISIBILITY_MS;
  const emitter = new EventEmitter();
  return {
    options,
    kind,
    name,
    user,
    principal: kind === "agent" ? hostToken(name) : workerToken(name),
    instance,
    id,
    logger,
    topology: resolveTopology(options.topology),
    queues: options.queues ?? ["default"],
    concurrency: Math.max(1, options.concurrency ?? 10),
    visibilityMs,
    beatMs: Math.min(options.heartbeatMs ?? 5000, visibilityMs / 3),
    emitter,
    emit: workerEmit(emitter, logger),
    stats: noStats(),
    running: new Map(),
    wakers: new Map(),
    capacityWaiters: new Set(),
    subs: [],
    stopping: new AbortController(),
    nc: undefined,
    ownConnection: false,
    ask: () => Promise.reject(new Error("not connected")),
    closing: undefined,
    beatTimer: undefined,
    loops: [],
    forced: false,
  };
}

/**
 * How many more jobs of `queue` the worker may take: its free slots, but with several queues each
 * other queue keeps one slot, so a queue whose handlers hang cannot starve the rest.
 */
export function freeFor(
  queues: readonly string[],
  concurrency: number,
  running: ReadonlyMap<string, { queue: string }>,
  queue: string,
): number {
  const cap = queues.length > 1 ? Math.max(1, concurrency - (queues.length - 1)) : concurrency;
  let mine = 0;
  for (const r of running.values()) if (r.queue === queue) mine++;
  return Math.min(concurrency - running.size, cap - mine);
}

/** Wakes every poll waiting for a free slot. */
export function capacityFreed(s: IdentityState): void {
  const ws = [...s.capacityWaiters];
  s.capacityWaiters.clear();
  for (const w of ws) w();
}

/** Resolves after `ms`, or earlier when the queue may have work (an event) or the worker stops. */
export function idle(s: IdentityState, queue: string, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      s.wakers.delete(queue);
      s.stopping.signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    s.wakers.set(queue, done);
    s.stopping.signal.addEventListener("abort", done, { once: true });
  });
}

/** A successful outcome whose result cannot be stored as JSON becomes a failure that is not retried. */
export function storableOutcome(outcome: HandlerOutcome): HandlerOutcome {
  if (!outcome.ok) return outcome;
  try {
    JSON.stringify(outcome.result);
    return outcome;
  } catch (err) {
    return {
      ok: false,
      error: {
        code: "result_not_serializable",
        message: `the handler's result cannot be stored as JSON: ${String(err)}`,
        retryable: false,
      },
      cancelled: false,
    };
  }
}

/** Whether a queue event (`{prefix}.ev.{queue}`) may mean new work for an idle poll. */
export function wakesIdle(event: string): boolean {
  return event.includes("job.enqueued") || event.includes("job.requeued");
}
