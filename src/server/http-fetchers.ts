/**
 * OJS HTTP workers in the worker registry: a fetch (`POST /ojs/v1/workers/fetch`) that names a
 * `worker_id` writes `q.<worker id token>` in the agents bucket (as SDK workers do, worker/presence.ts)
 * with `via: "http"` and the queues it asked for. HTTP workers have no close, so the entry goes
 * offline when fetches stop for three heartbeat periods, and the bucket's TTL removes it later.
 * Writes are throttled per worker id; nothing runs between fetches (no timer to close).
 */
import type { Engine } from "../store/engine.js";
import type { QueueWorkerInfo } from "../worker/presence.js";
import { queueWorkerKey } from "../worker/presence.js";

/** The heartbeat an HTTP worker is judged by: it counts as online for three of these after a fetch. */
export const HTTP_FETCHER_HEARTBEAT_MS = 30_000;
/** Worker ids forgotten by the throttle after this long without a fetch. */
const FORGET_MS = 15 * 60_000;

interface Seen {
  writtenAt: number;
  startedAt: string;
  queues: string[];
}

const byEngine = new WeakMap<Engine, Map<string, Seen>>();

/** Notes a fetch by `workerId`; writes its registry entry at most every third of a heartbeat. */
export function noteHttpFetcher(
  engine: Engine,
  workerId: string,
  queues: string[],
  onError: (err: unknown) => void,
  now = Date.now(),
): void {
  if (workerId === "" || workerId === "anonymous") return;
  let seen = byEngine.get(engine);
  if (!seen) byEngine.set(engine, (seen = new Map<string, Seen>()));
  const cur = seen.get(workerId);
  const sameQueues = cur !== undefined && queues.every((q) => cur.queues.includes(q));
  if (cur && sameQueues && now - cur.writtenAt < HTTP_FETCHER_HEARTBEAT_MS / 3) return;
  const entry: Seen = {
    writtenAt: now,
    startedAt: cur?.startedAt ?? new Date(now).toISOString(),
    queues: [...new Set([...(cur?.queues ?? []), ...queues])],
  };
  seen.set(workerId, entry);
  if (seen.size > 1000) for (const [id, s] of seen) if (now - s.writtenAt > FORGET_MS) seen.delete(id);
  const info: QueueWorkerInfo = {
    id: workerId,
    queues: entry.queues,
    concurrency: 0,
    running: 0,
    completed: 0,
    failed: 0,
    host: "",
    pid: 0,
    version: "unknown",
    started_at: entry.startedAt,
    heartbeat_ms: HTTP_FETCHER_HEARTBEAT_MS,
    via: "http",
  };
  engine.ctx.buckets.agents.put(queueWorkerKey(workerId), JSON.stringify(info)).catch(onError);
}
