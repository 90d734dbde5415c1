/**
 * The worker's hot path: it holds a segment delivery while it runs that segment's jobs.
 *
 * On delivery it claims (reserves) every runnable job in one journal append (compare-and-set; on a
 * first delivery it appends optimistically against an empty journal and reads only if that fails).
 * The claim rules are the HTTP door's (store/segments/claims.ts). Jobs beyond its free slots plus `prefetch`,
 * and claimed jobs that wait longer than `rebalanceAfterMs` for a free slot, move to new segments so
 * other workers can take them: long jobs spread out, fast jobs never move.
 *
 * A reservation is not an attempt: when a handler starts, a `start` op is written (with the next
 * flush, or folded into the job's outcome when it finishes first), and only a started attempt
 * counts. A job taken over from a worker that lost its delivery starts only once its `start` is
 * stored, so a job whose handler kills the worker pays an attempt each time and the jobs that waited
 * behind it pay nothing.
 *
 * Outcomes are buffered and flushed per segment, one append in flight at a time, so a burst of
 * completions costs one write. The delivery is renewed while jobs run and acked once every job
 * reached an outcome.
 */
import type { Delivery } from "../nats/pull.js";
import { listenForMoves } from "../store/segments/local-moves.js";
import { jobIdAt } from "../store/segments/segment.js";
import { createCompleter } from "./completer.js";
import { createExecutor } from "./executor.js";
import type { Executor } from "./executor.js";
import { cancelRunning } from "./handler.js";
import { createHoldings } from "./lease.js";
import { createProducer } from "./producer.js";
import type { RunnerStats, SegmentRunnerDeps } from "./runner-state.js";
import { noStats } from "./runner-state.js";
import { createSlots } from "./slots.js";

export interface SegmentRunner {
  /** Takes a delivered segment; false when it was given back at once (no capacity, or draining). */
  accept(d: Delivery): Promise<boolean>;
  /** Free job slots not covered by running or waiting jobs. */
  free(): number;
  /** Free slots for one queue: also within its share (see `queueCap`). */
  freeFor(queue: string): number;
  readonly stats: RunnerStats;
  /** Stops starting jobs; gives back unstarted ones; waits for running ones until `deadline`, then aborts them. */
  drain(deadline: number): Promise<void>;
  /** Aborts the running job with this id (it was cancelled). */
  cancel(id: string): void;
  /** A lane's lease is this short: renew held segments often enough for it. */
  noteLeaseMs(ms: number): void;
  /** Starts waiting jobs that may start now (after a queue was resumed). */
  kick(): void;
}

export class ShutdownError extends Error {
  override name = "ShutdownError";
}

/**
 * Wires the runner's parts (River's shape): lease upkeep (lease.ts), the producer that claims
 * (producer.ts), local scheduling (slots.ts), the executor that runs a job (executor.ts) and the
 * completer that writes outcomes (completer.ts).
 */
export function createSegmentRunner(deps: SegmentRunnerDeps): SegmentRunner {
  const d = { ...deps, ctx: deps.svc.ctx, locator: deps.svc.locator };
  const stats: RunnerStats = noStats();
  let draining = false;
  const isDraining = () => draining;

  const holdings = createHoldings(d, stats);
  // Copies moved here by other processes are claimed on their mover's notice (local-moves.ts).
  const moveNotices = listenForMoves(d.ctx);
  // The parts call each other through late-bound hooks: the executor is made last.
  const run = (h: Parameters<Executor["run"]>[0], i: number, a: number, recorded: boolean) =>
    void executor.run(h, i, a, recorded);
  const slots = createSlots(d, stats, {
    isDraining,
    run,
    startedEvent: (h, i, a, now) => executor.startedEvent(h, i, a, now),
    flush: (h) => void completer.flush(h),
  });
  const stop = (id: string) => {
    const c = executor.cancels.get(id);
    if (c) cancelRunning(c, new Error("cancelled"));
  };
  const completer = createCompleter(d, {
    holdings,
    slots,
    run,
    stop,
    settled: (h, op, stored) => executor.settled(h, op, stored),
  });
  const executor = createExecutor(d, stats, { slots, completer });
  const cancels = executor.cancels;
  const producer = createProducer(d, { holdings, slots, completer, isDraining });

  return {
    accept: (delivery) => producer.accept(delivery),
    free: () => slots.free(),
    freeFor: (q) => slots.freeFor(q),
    stats,
    cancel(id) {
      stop(id);
      // Reserved but not started: drop it (the cancel is already in its journal).
      const k = slots.waiting.findIndex((w) => jobIdAt(w.h.at, w.i) === id);
      if (k >= 0) {
        const w = slots.unwait(k);
        holdings.maybeRelease(w.h);
        d.onCapacity();
      }
    },
    kick: () => slots.startWaiting(),
    noteLeaseMs(ms) {
      if (draining) return;
      holdings.noteLeaseMs(ms);
    },
    async drain(deadline) {
      draining = true;
      // Claimed but never started: give them back without using up an attempt.
      while (slots.waiting.length > 0) {
        const { h, i, a } = slots.unwait(0);
        h.pending.push({ op: "requeue", i, a, at: Date.now(), u: 1 });
        void completer.flush(h);
      }
      if (holdings.held.size > 0) {
        const allDone = holdings.whenIdle();
        const timer = setTimeout(
          () => {
            for (const c of cancels.values()) cancelRunning(c, new ShutdownError("the worker stopped"));
          },
          Math.max(0, deadline - Date.now()),
        );
        await allDone;
        clearTimeout(timer);
      }
      holdings.stop();
      producer.stop();
      moveNotices.unsubscribe();
    },
  };
}
