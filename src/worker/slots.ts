/**
 * Local scheduling of the segment runner: the worker's job slots, the claimed jobs waiting for one
 * (in claim order), each queue's share of the slots (`queueCap`), paused queues, and suspects (jobs
 * whose last attempt was lost while they ran) running one at a time.
 */
import type { JobEvent } from "../store/jobs/events.js";
import { jobIdAt } from "../store/segments/segment.js";
import type { Held, RunnerDeps, RunnerStats, Waiting } from "./runner-state.js";

export interface Slots {
  /** Claimed jobs waiting for a free slot, oldest first. */
  readonly waiting: Waiting[];
  /** Free job slots not covered by running, waiting or being-claimed jobs. */
  free(): number;
  /** Free slots for one queue: also within its share (see `queueCap`). */
  freeFor(queue: string): number;
  /** Whether the queue is paused (as this worker last heard from the queue registry). */
  isPaused(queue: string): boolean;
  /** Counts `n` jobs of `queue` whose claims are being written (negative: done). */
  claiming(queue: string, n: number): void;
  /** Adds a claimed job to the waiting list. */
  wait(w: Waiting): void;
  /** Takes waiting entry `k` off the list. */
  unwait(k: number): Waiting;
  /** Starts waiting jobs while slots are free. */
  startWaiting(): void;
  /** A running job's slot is free again. */
  finished(h: Held, i: number): void;
}

export interface SlotHooks {
  isDraining(): boolean;
  /** Runs a job whose slot is taken (executor.ts); `recorded`: its start is stored already. */
  run(h: Held, i: number, a: number, recorded: boolean): void;
  startedEvent(h: Held, i: number, a: number, now: number): JobEvent;
  flush(h: Held): void;
}

export function createSlots(d: RunnerDeps, stats: RunnerStats, hooks: SlotHooks): Slots {
  const waiting: Waiting[] = [];
  /** Ids of running suspects (see `Waiting.suspect`). */
  const suspectsRunning = new Set<string>();
  /** Jobs of segments whose claims are being written (not yet running or waiting). */
  let claiming = 0;
  /** The same per queue: running, waiting and being claimed (for each queue's share). */
  const runningBy = new Map<string, number>();
  const waitingBy = new Map<string, number>();
  const claimingBy = new Map<string, number>();
  // Kept only when there are shares to keep (a worker of one queue has nothing to divide).
  const shared = d.queueCap !== undefined;
  const add = (m: Map<string, number>, q: string, n: number) => {
    if (shared) m.set(q, (m.get(q) ?? 0) + n);
  };
  const capOf = (q: string) => d.queueCap?.(q) ?? d.concurrency;

  function free(): number {
    return d.concurrency - stats.running - waiting.length - claiming;
  }

  /**
   * Paused queues (from the queue registry's watch): their reserved jobs wait and are handed back
   * by the rebalance timer; no job of theirs starts here once this worker knows of the pause.
   */
  const isPaused = (q: string) => d.ctx.queues.cached(q)?.paused === true;

  function freeFor(q: string): number {
    if (!shared) return free();
    const used = (runningBy.get(q) ?? 0) + (waitingBy.get(q) ?? 0) + (claimingBy.get(q) ?? 0);
    return Math.min(free(), capOf(q) - used);
  }

  function unwait(k: number): Waiting {
    const w = k === 0 ? waiting.shift()! : waiting.splice(k, 1)[0]!;
    w.h.queued--;
    add(waitingBy, w.h.at.seg.q, -1);
    return w;
  }

  function startWaiting(): void {
    while (!hooks.isDraining() && stats.running < d.concurrency) {
      // The first waiting job whose queue is within its share, skipping suspects while one runs.
      const k =
        !shared && suspectsRunning.size === 0 && (waiting.length === 0 || !isPaused(waiting[0]!.h.at.seg.q))
          ? waiting.length > 0
            ? 0
            : -1
          : waiting.findIndex(
              (w) =>
                !isPaused(w.h.at.seg.q) &&
                (!shared || (runningBy.get(w.h.at.seg.q) ?? 0) < capOf(w.h.at.seg.q)) &&
                (!w.suspect || suspectsRunning.size === 0),
            );
      if (k < 0) break;
      const { h, i, a, ahead, suspect } = unwait(k);
      stats.running++;
      add(runningBy, h.at.seg.q, 1);
      h.running.add(i);
      if (suspect) suspectsRunning.add(jobIdAt(h.at, i));
      if (!ahead) {
        hooks.run(h, i, a, false);
        continue;
      }
      // Taken over from a lost delivery: store the start first (see segments.ts).
      h.aheads.set(i, a);
      h.pending.push({ op: "start", i, a, at: Date.now() });
      h.events.push(hooks.startedEvent(h, i, a, Date.now()));
      hooks.flush(h);
    }
  }

  return {
    waiting,
    free,
    freeFor,
    isPaused,
    claiming(q, n) {
      claiming += n;
      add(claimingBy, q, n);
    },
    wait(w) {
      waiting.push(w);
      w.h.queued++;
      add(waitingBy, w.h.at.seg.q, 1);
    },
    unwait,
    startWaiting,
    finished(h, i) {
      h.running.delete(i);
      stats.running--;
      add(runningBy, h.at.seg.q, -1);
      if (suspectsRunning.size > 0) suspectsRunning.delete(jobIdAt(h.at, i));
    },
  };
}
