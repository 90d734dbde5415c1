/**
 * What an identity worker (identity-worker.ts) does through the API servers' worker relay while it
 * runs: one poll per queue fetching as many jobs as it has free slots, running each and reporting
 * its outcome, and the beats that extend the leases of running jobs. Module functions over its state
 * (identity-state.ts).
 */
import { RelayOp } from "../access/worker-access.js";
import { coerceError, httpStatusFor, isJetjobError } from "../core/errors.js";
import type { HandlerOutcome } from "./handler.js";
import { cancelRunning, newJobCancel, runHandler, runHandlerInTrace } from "./handler.js";
import type { IdentityState } from "./identity-state.js";
import { capacityFreed, freeFor, idle, storableOutcome } from "./identity-state.js";
import type { RelayedJob } from "./relay-client.js";
import { handlerJobOf } from "./relay-client.js";
import type { JobContext } from "./types.js";

/** How long an idle queue waits before it is asked again when no event woke it. */
export const IDLE_POLL_MS = 1000;

/** Fetches and starts jobs of one queue until the worker stops. */
export async function pollQueue(s: IdentityState, queue: string): Promise<void> {
  const { stopping } = s;
  while (!stopping.signal.aborted) {
    const free = freeFor(s.queues, s.concurrency, s.running, queue);
    if (free <= 0) {
      await new Promise<void>((resolve) => {
        const w = () => {
          s.capacityWaiters.delete(w);
          resolve();
        };
        s.capacityWaiters.add(w);
        stopping.signal.addEventListener("abort", w, { once: true });
      });
      continue;
    }
    let jobs: RelayedJob[];
    try {
      const r = await s.ask(queue, RelayOp.Fetch, { count: free, visibility_timeout_ms: s.visibilityMs });
      jobs = (r.jobs as RelayedJob[] | undefined) ?? [];
    } catch (err) {
      if (stopping.signal.aborted) return;
      s.emit("error", coerceError(err));
      await idle(s, queue, IDLE_POLL_MS);
      continue;
    }
    if (jobs.length === 0) {
      await idle(s, queue, IDLE_POLL_MS);
      continue;
    }
    for (const job of jobs) void runJob(s, queue, job);
  }
}

/** Runs one fetched job's handler and reports its outcome; a job without a handler here goes back. */
async function runJob(s: IdentityState, queue: string, v: RelayedJob): Promise<void> {
  const { ask, emit } = s;
  const cancel = newJobCancel();
  s.running.set(v.id, { id: v.id, queue, cancel });
  s.stats.running = s.running.size;
  const attempt = typeof v.attempt === "number" ? v.attempt : 1;
  const started = Date.now();
  const handler = (s.options.handlers as Record<string, ((job: JobContext) => unknown) | undefined>)[v.type];
  try {
    if (!handler) {
      // Another worker of the queue may have the handler (a rolling deploy): give it back.
      await ask(queue, RelayOp.Nack, { id: v.id, requeue: true }).catch((err: unknown) =>
        emit("error", coerceError(err)),
      );
      return;
    }
    const job = handlerJobOf(v, attempt, cancel, (u) => ask(queue, RelayOp.Progress, { id: v.id, ...u }));
    const traceparent = job.traceparent;
    emit("job:start", { id: v.id, type: v.type, attempt });
    const timeoutMs = typeof v.timeout_ms === "number" ? v.timeout_ms : undefined;
    const outcome =
      traceparent === undefined
        ? await runHandler(handler, job, { timeoutMs, cancel })
        : await runHandlerInTrace(handler, job, {
            timeoutMs,
            cancel,
            traceparent,
            tracestate: typeof v.tracestate === "string" ? v.tracestate : undefined,
          });
    await report(s, queue, v, attempt, started, storableOutcome(outcome));
  } finally {
    s.running.delete(v.id);
    s.stats.running = s.running.size;
    capacityFreed(s);
  }
}

/** Acks or nacks a job through the relay, and emits what happened. */
async function report(
  s: IdentityState,
  queue: string,
  v: RelayedJob,
  attempt: number,
  started: number,
  outcome: HandlerOutcome,
): Promise<void> {
  const { ask, emit, stats } = s;
  try {
    if (outcome.ok) {
      await ask(queue, RelayOp.Ack, { id: v.id, result: outcome.result ?? null });
      stats.completed++;
      emit("job:complete", { id: v.id, type: v.type, attempt, durationMs: Date.now() - started });
      return;
    }
    if (outcome.cancelled) {
      // Cancelled: already recorded. Stopped by a forced shutdown: give it back for another worker.
      if (s.forced) await ask(queue, RelayOp.Nack, { id: v.id, requeue: true });
      return;
    }
    const r = await ask(queue, RelayOp.Nack, { id: v.id, error: outcome.error });
    stats.failed++;
    emit("job:fail", {
      id: v.id,
      type: v.type,
      attempt,
      error: outcome.error.message,
      retrying: r.state !== "discarded",
    });
  } catch (err) {
    // Refused (409): the job was cancelled, or another worker holds it now. Nothing of ours is stored.
    if (!isJetjobError(err) || httpStatusFor(err.code) !== 409) return emit("error", coerceError(err));
    stats.lost++;
    emit("job:lost", { id: v.id, type: v.type, attempt });
  }
}

/** Extends the leases of running jobs (and keeps the registry entry fresh); stops jobs it lost. */
export async function beat(s: IdentityState, state?: string): Promise<void> {
  const { running } = s;
  for (const [k, queue] of s.queues.entries()) {
    const ids = [...running.values()].filter((r) => r.queue === queue).map((r) => r.id);
    if (ids.length === 0 && k > 0) continue;
    try {
      const r = await s.ask(queue, RelayOp.Beat, {
        ids,
        visibility_timeout_ms: s.visibilityMs,
        ...(k === 0 ? { state: state ?? "running", running: running.size } : {}),
      });
      for (const lost of (r.lost as string[] | undefined) ?? []) {
        const job = running.get(lost);
        if (job) cancelRunning(job.cancel, new Error("the job's lease was lost"));
      }
    } catch (err) {
      if (!s.stopping.signal.aborted) s.emit("error", coerceError(err));
    }
  }
}
