/**
 * Queue workers in the worker registry: every SDK worker writes `q.<worker id token>` in the agents
 * bucket (next to the fleet agents' `a.<host token>`) when it starts and on each heartbeat, with its
 * queues, concurrency and running jobs, and deletes it on close. The API, `jetjob worker list`, the
 * dashboard and the metrics read these entries to show who consumes each queue. An entry is online
 * while it is younger than three of the worker's own heartbeat periods (judged from the server's
 * store time); a worker that died without closing stays listed as offline until the bucket's TTL
 * removes it.
 */
import { readFileSync } from "node:fs";
import { hostname } from "node:os";

import type { KvEntry } from "@nats-io/kv";

import type { Logger } from "../core/logger.js";
import type { StoreContext } from "../store/infra/context.js";
import { hostToken } from "../store/infra/topology.js";

/** Heartbeats an entry may miss before it counts as offline. */
const LIVENESS_MISSES = 3;

/** What a queue worker writes about itself on every heartbeat. */
export interface QueueWorkerInfo {
  id: string;
  queues: string[];
  concurrency: number;
  /** Jobs running now. */
  running: number;
  /** Jobs finished by this process so far. */
  completed: number;
  failed: number;
  host: string;
  pid: number;
  /** jetjob's version. */
  version: string;
  started_at: string;
  heartbeat_ms: number;
  /**
   * How it takes jobs: `nats` (the worker SDK, which writes the entry itself) or `http` (an OJS HTTP
   * worker, registered by the API server from the `worker_id` of its fetches; its running count,
   * concurrency, host and pid are unknown and 0/empty). @defaultValue "nats"
   */
  via?: "nats" | "http";
  /**
   * Where the worker is in its lifecycle (ojs-graceful-shutdown): `running`; `quiet` (takes no new
   * jobs); `draining` (shutting down: takes no new jobs, finishes the running ones); `terminated`.
   * An SDK worker announces `draining` when `close()` begins; an HTTP worker by a beat with `state`
   * (`POST /ojs/v1/workers/beat`). The API server gives a quiet or draining HTTP worker no jobs.
   * @defaultValue "running"
   */
  state?: WorkerLifecycleState;
}

/** Lifecycle states of a queue worker in the registry. */
export const WorkerLifecycleState = {
  Running: "running",
  Quiet: "quiet",
  Draining: "draining",
  Terminated: "terminated",
} as const;
export type WorkerLifecycleState = (typeof WorkerLifecycleState)[keyof typeof WorkerLifecycleState];

/** A queue worker as the API lists it. */
export interface QueueWorkerView extends QueueWorkerInfo {
  kind: "queue";
  online: boolean;
  last_seen: string;
}

export interface QueueWorkerEntry {
  info: QueueWorkerInfo;
  /** Server store time of the last heartbeat, epoch ms. */
  seenAt: number;
}

export const QUEUE_WORKER_PREFIX = "q.";
export const queueWorkerKey = (id: string) => `${QUEUE_WORKER_PREFIX}${hostToken(id)}`;

export function queueWorkerAlive(e: QueueWorkerEntry, now = Date.now()): boolean {
  return now - e.seenAt < e.info.heartbeat_ms * LIVENESS_MISSES;
}

export function queueWorkerView(e: QueueWorkerEntry, now = Date.now()): QueueWorkerView {
  return {
    kind: "queue",
    ...e.info,
    online: queueWorkerAlive(e, now),
    last_seen: new Date(e.seenAt).toISOString(),
  };
}

/** Reads a registry entry of a queue worker (undefined for a delete or a malformed value). */
export function decodeQueueWorker(e: KvEntry): QueueWorkerEntry | undefined {
  if (e.operation !== "PUT") return undefined;
  try {
    const info = JSON.parse(new TextDecoder().decode(e.value)) as QueueWorkerInfo;
    if (typeof info.id !== "string" || !Array.isArray(info.queues)) return undefined;
    return { info, seenAt: e.created.getTime() };
  } catch {
    return undefined;
  }
}

/** Number of online queue workers per queue. */
export function consumersByQueue(entries: Iterable<QueueWorkerEntry>, now = Date.now()): Map<string, number> {
  const out = new Map<string, number>();
  for (const e of entries) {
    if (!queueWorkerAlive(e, now)) continue;
    for (const q of e.info.queues) out.set(q, (out.get(q) ?? 0) + 1);
  }
  return out;
}

let cachedVersion: string | undefined;
function jetjobVersion(): string {
  if (cachedVersion === undefined) {
    try {
      const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
        version?: unknown;
      };
      cachedVersion = typeof pkg.version === "string" ? pkg.version : "unknown";
    } catch {
      cachedVersion = "unknown";
    }
  }
  return cachedVersion;
}

export interface PresenceOptions {
  id: string;
  queues: string[];
  concurrency: number;
  heartbeatMs: number;
  stats: () => { running: number; completed: number; failed: number };
  logger: Logger;
  onError: (err: unknown) => void;
}

export interface Presence {
  /** Announces that the worker is shutting down (state `draining`); heartbeats keep that state. */
  draining(): Promise<void>;
  close(): Promise<void>;
}

/** Writes the worker's entry now and on every heartbeat (failures go to `onError`); `close()` deletes it. */
export async function startPresence(ctx: StoreContext, o: PresenceOptions): Promise<Presence> {
  const kv = ctx.buckets.agents;
  const key = queueWorkerKey(o.id);
  const base = {
    id: o.id,
    queues: [...o.queues],
    concurrency: o.concurrency,
    host: hostname(),
    pid: process.pid,
    version: jetjobVersion(),
    started_at: new Date().toISOString(),
    heartbeat_ms: o.heartbeatMs,
  };
  let state: WorkerLifecycleState = WorkerLifecycleState.Running;
  const beat = () => {
    const s = o.stats();
    const info: QueueWorkerInfo = {
      ...base,
      running: s.running,
      completed: s.completed,
      failed: s.failed,
      state,
    };
    return kv.put(key, JSON.stringify(info));
  };
  let failing = false;
  // The registry is for people and dashboards: a worker that cannot write its entry still runs jobs.
  await beat().catch((err: unknown) => {
    failing = true;
    o.onError(err);
  });
  let inFlight: Promise<unknown> = Promise.resolve();
  const timer = setInterval(() => {
    inFlight = beat().then(
      () => {
        failing = false;
      },
      (err: unknown) => {
        // Once per run of failures: NATS being away is logged by the connection already.
        if (!failing) o.onError(err);
        failing = true;
      },
    );
  }, o.heartbeatMs);
  timer.unref();
  return {
    async draining() {
      state = WorkerLifecycleState.Draining;
      await inFlight;
      inFlight = beat().catch((err: unknown) => o.onError(err));
      await inFlight;
    },
    async close() {
      clearInterval(timer);
      await inFlight;
      try {
        await kv.delete(key);
      } catch (err) {
        o.logger.debug("could not remove the worker's registry entry", { error: String(err) });
      }
    },
  };
}
