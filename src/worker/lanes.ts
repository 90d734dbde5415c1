/**
 * Which lanes a NATS-direct worker pulls from, and when (worker.ts): one long-poll pull per lane of
 * its queues, asked for one segment at a time while the worker has free slots. Module functions over
 * the worker's state (worker-state.ts).
 */
import type { PullLoop } from "../nats/pull.js";
import { createPullLoop } from "../nats/pull.js";
import type { QueueRecord } from "../store/queues/queues.js";
import type { Lane, WorkerState } from "./worker-state.js";

/** How long a request on a lane of unknown state waits (a probe). */
const PROBE_MS = 100;
/** How long a request waits for new work. */
const LONG_POLL_MS = 30_000;

/**
 * Decides which lanes to pull from. Within a queue, lanes are tried from the highest priority down,
 * and a lower lane is asked only once every higher lane is known to be empty (an empty lane keeps
 * a long poll open, which does not use capacity: if work arrives there the worker takes it or gives
 * it back at once). A lane's state comes from the consumer's pending count on each delivery and
 * from requests that end empty; a lane not yet seen is probed with a short request.
 */
export function pump(s: WorkerState): void {
  const { runner, ctx, loops } = s;
  if (!runner || !ctx || s.closing) return;
  let free = runner.free();
  for (const l of loops.values()) if (l.state !== "empty") free -= l.loop.credit;
  for (const queue of s.queues) {
    if (ctx.queues.cached(queue)?.paused) continue;
    // This queue's share (see `queueCap`): a queue whose jobs hold their share waits for them.
    let queueFree = runner.freeFor(queue);
    for (const l of loops.values()) if (l.queue === queue && l.state !== "empty") queueFree -= l.loop.credit;
    for (const l of loops.values()) {
      if (l.queue !== queue) continue;
      if (l.loop.credit > 0) {
        if (l.state === "empty") continue; // listening for new work; look lower
        break; // waiting for this lane's delivery
      }
      if (l.state === "empty") {
        l.loop.request(1, LONG_POLL_MS);
        continue;
      }
      if (free <= 0 || queueFree <= 0) break;
      l.loop.request(1, l.state === "unknown" ? PROBE_MS : LONG_POLL_MS);
      free--;
      break;
    }
  }
}

/** Renews held segments often enough for the lane's real lease (its consumer's ack wait). */
function learnLease(s: WorkerState, queue: string, priority: number): void {
  const c = s.ctx;
  if (!c) return;
  void c.jsm.consumers
    .info(c.topology.streams.queue, c.subjects.laneConsumer(queue, priority))
    .then((info) => s.runner?.noteLeaseMs(Math.floor((info.config.ack_wait ?? 0) / 1e6)))
    .catch((err: unknown) => s.emit("error", err instanceof Error ? err : new Error(String(err))));
}

/** Opens a pull for each lane of the queue not pulled yet (a queue of this worker's), then pumps. */
export function addLanes(s: WorkerState, rec: QueueRecord): void {
  const { ctx, runner, loops } = s;
  if (!s.queues.includes(rec.name) || !ctx || !runner || s.closing) return;
  for (const priority of rec.lanes) {
    const key = `${rec.name}|${priority}`;
    if (loops.has(key)) continue;
    const lane: Lane = {
      queue: rec.name,
      priority,
      state: "unknown",
      loop: undefined as unknown as PullLoop,
    };
    lane.loop = createPullLoop(
      ctx.nc,
      ctx.topology.streams.queue,
      ctx.subjects.laneConsumer(rec.name, priority),
      {
        onMessage: (d) => {
          lane.state = d.info.pending > 0 ? "busy" : "empty";
          void runner
            .accept(d)
            .then((accepted) => {
              // Work arrived that we could not take now: the lane has work; ask when capacity frees.
              if (!accepted) lane.state = "busy";
            })
            .finally(s.pump);
          // Ask for the next segment while this one's claims are written (accept counted its jobs).
          s.pump();
        },
        onEnd: (received) => {
          if (received === 0) lane.state = "empty";
          s.pump();
        },
        onError: (err) => s.emit("error", err),
      },
    );
    loops.set(key, lane);
    learnLease(s, rec.name, priority);
  }
  sortLanes(loops);
  s.pump();
}

/** Orders the lanes of each queue from the highest priority down (the order `pump` asks them in). */
export function sortLanes(loops: Map<string, Lane>): void {
  const sorted = [...loops.entries()].sort((a, b) => b[1].priority - a[1].priority);
  loops.clear();
  for (const [k, v] of sorted) loops.set(k, v);
}
