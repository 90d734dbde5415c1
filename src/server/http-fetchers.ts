/**
 * OJS HTTP workers in the worker registry: a fetch (`POST /ojs/v1/workers/fetch`) that names a
 * `worker_id` writes `q.<worker id token>` in the agents bucket (as SDK workers do, worker/presence.ts)
 * with `via: "http"` and the queues it asked for. HTTP workers have no close, so the entry goes
 * offline when fetches stop for three heartbeat periods, and the bucket's TTL removes it later.
 * Writes are throttled per worker id; nothing runs between fetches (no timer to close).
 *
 * A worker shutting down says so with a beat (`POST /ojs/v1/workers/beat`, `state: quiet | drain |
 * terminate`, ojs-graceful-shutdown): its entry then carries that state, and its fetches get no jobs
 * (`takesJobs`), on any API server: the state is read from the registry, at most once a second per
 * worker id and process.
 */
import type { Engine } from "../store/engine.js";
import type { QueueWorkerInfo } from "../worker/presence.js";
import { decodeQueueWorker, queueWorkerKey, WorkerLifecycleState } from "../worker/presence.js";

/** The heartbeat an HTTP worker is judged by: it counts as online for three of these after a fetch. */
export const HTTP_FETCHER_HEARTBEAT_MS = 30_000;
/** Worker ids forgotten by the throttle after this long without a fetch. */
const FORGET_MS = 15 * 60_000;

interface Seen {
  writtenAt: number;
  startedAt: string;
  queues: string[];
  state?: WorkerLifecycleState;
  running?: number;
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
  // Called for fetches that were given jobs (`takesJobs`), so the worker is running.
  writeEntry(engine, seen, workerId, queues, WorkerLifecycleState.Running, 0, now).catch(onError);
}

function writeEntry(
  engine: Engine,
  seen: Map<string, Seen>,
  workerId: string,
  queues: string[],
  state: WorkerLifecycleState,
  running: number,
  now: number,
): Promise<unknown> {
  const cur = seen.get(workerId);
  const entry: Seen = {
    writtenAt: now,
    startedAt: cur?.startedAt ?? new Date(now).toISOString(),
    queues: [...new Set([...(cur?.queues ?? []), ...queues])],
    state,
    running,
  };
  seen.set(workerId, entry);
  if (seen.size > 1000) for (const [id, s] of seen) if (now - s.writtenAt > FORGET_MS) seen.delete(id);
  const info: QueueWorkerInfo = {
    id: workerId,
    queues: entry.queues,
    concurrency: 0,
    running,
    completed: 0,
    failed: 0,
    host: "",
    pid: 0,
    version: "unknown",
    started_at: entry.startedAt,
    heartbeat_ms: HTTP_FETCHER_HEARTBEAT_MS,
    via: "http",
    state,
  };
  return engine.ctx.buckets.agents.put(queueWorkerKey(workerId), JSON.stringify(info));
}

/** The OJS beat states and their registry states. */
const BEAT_STATES: Readonly<Record<string, WorkerLifecycleState>> = {
  running: WorkerLifecycleState.Running,
  active: WorkerLifecycleState.Running,
  quiet: WorkerLifecycleState.Quiet,
  drain: WorkerLifecycleState.Draining,
  draining: WorkerLifecycleState.Draining,
  terminate: WorkerLifecycleState.Terminated,
  terminated: WorkerLifecycleState.Terminated,
};

/** The registry state of an OJS beat `state` (undefined for an unknown one). */
export function beatState(state: string): WorkerLifecycleState | undefined {
  return BEAT_STATES[state.toLowerCase()];
}

/** Records an HTTP worker's beat: its state and running jobs, written at once (not throttled). */
export async function noteHttpWorkerBeat(
  engine: Engine,
  workerId: string,
  state: WorkerLifecycleState,
  running: number,
  now = Date.now(),
): Promise<void> {
  let seen = byEngine.get(engine);
  if (!seen) byEngine.set(engine, (seen = new Map<string, Seen>()));
  const known = await readEntry(engine, workerId);
  const queues = known?.info.queues ?? seen.get(workerId)?.queues ?? [];
  await writeEntry(engine, seen, workerId, queues, state, running, now);
  stateCache.set(workerId, { state, readAt: now });
}

async function readEntry(engine: Engine, workerId: string) {
  const e = await engine.ctx.buckets.agents.get(queueWorkerKey(workerId));
  return e ? decodeQueueWorker(e) : undefined;
}

/** Registry states read by {@link takesJobs}, per worker id (for a second). */
const stateCache = new Map<string, { state: WorkerLifecycleState; readAt: number }>();
const STATE_CACHE_MS = 1000;

/**
 * Whether worker `workerId` may be given jobs: not when its registry entry says it is quiet,
 * draining or terminated. Read from the registry at most once a second per worker id.
 */
export async function takesJobs(engine: Engine, workerId: string, now = Date.now()): Promise<boolean> {
  if (workerId === "" || workerId === "anonymous") return true;
  let cached = stateCache.get(workerId);
  if (cached === undefined || now - cached.readAt >= STATE_CACHE_MS) {
    const entry = await readEntry(engine, workerId).catch(() => undefined);
    cached = { state: entry?.info.state ?? WorkerLifecycleState.Running, readAt: now };
    if (stateCache.size > 10_000) stateCache.clear();
    stateCache.set(workerId, cached);
  }
  return cached.state === WorkerLifecycleState.Running;
}
