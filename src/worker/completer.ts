/**
 * The segment runner's completer: buffered journal writes. Starts, outcomes and requeues of a held
 * segment's jobs collect in `Held.pending` and are appended per segment, one append in flight at a
 * time, so a burst of completions costs one write. A start still unwritten when its job ends is
 * folded into the outcome ({@link foldStarts}). After someone else appended (a cancel, a takeover),
 * only the ops that still apply are written.
 */
import { ErrorCode, isJetjobError } from "../core/errors.js";
import { Store } from "../core/ids.js";
import { WrongSequenceError } from "../nats/publisher.js";
import { emitEvents } from "../store/jobs/events.js";
import type { Slot } from "../store/journal/fold.js";
import type { JournalOp } from "../store/journal/journal-ops.js";
import { outcomesOf } from "../store/infra/services.js";
import { jobIdAt } from "../store/segments/segment.js";
import type { Holdings } from "./lease.js";
import type { Held, OutcomeOp, RunnerDeps } from "./runner-state.js";
import type { Slots } from "./slots.js";

export interface Completer {
  /** Appends what is pending for the segment (and what collects meanwhile); then maybe releases it. */
  flush(h: Held): Promise<void>;
  /**
   * Writes the starts of jobs still running on the next turn of the event loop: jobs that end at once
   * (in this turn) carry their start in their outcome, so fast jobs cost no extra op.
   */
  flushSoon(h: Held): void;
  /** The start time of job `i` if its start was not written yet (it goes into the outcome). */
  takeStart(h: Held, i: number): number | undefined;
}

export interface CompleterHooks {
  holdings: Holdings;
  slots: Slots;
  /** Runs a job whose start is now stored (executor.ts). */
  run(h: Held, i: number, a: number, recorded: true): void;
  /** Stops a running job's handler (its start was refused: cancelled or taken over meanwhile). */
  stop(id: string): void;
  /** An outcome op was stored, or dropped because someone else wrote first (executor.ts). */
  settled(h: Held, op: OutcomeOp, stored: boolean): void;
}

export function createCompleter(d: RunnerDeps, hooks: CompleterHooks): Completer {
  const { holdings, slots } = hooks;

  async function flush(h: Held): Promise<void> {
    if (h.flushing) return;
    h.flushing = true;
    try {
      while (h.pending.length > 0) {
        let ops = foldStarts(h.pending.splice(0));
        const afters = h.afters.splice(0);
        const events = h.events.splice(0);
        let appended = false;
        for (let attempt = 0; !appended && ops.length > 0; attempt++) {
          try {
            h.journal = await d.ctx.journals.append(Store.Queue, h.at.seq, ops, h.journal);
            appended = true;
          } catch (err) {
            if (err instanceof WrongSequenceError) {
              try {
                h.journal = await d.ctx.journals.read(Store.Queue, h.at.seq, h.at.seg.jobs.length);
              } catch (readErr) {
                // NATS is away: try again shortly (the stale state makes the next append fail the same way).
                d.logger.warn("journal read failed; retrying", { segment: h.at.seq, error: String(readErr) });
                await new Promise((r) => setTimeout(r, Math.min(100 * 2 ** attempt, 2000)));
                continue;
              }
              // Someone else wrote (a cancel, a takeover): keep only what still applies.
              const slots = h.journal.slots;
              ops = ops.filter((op) => applies(slots, op) || dropped(h, op));
            } else if (isJetjobError(err) && err.code === ErrorCode.PayloadTooLarge && ops.length > 1) {
              // Large results that do not fit in one message together: write half now, half next
              // (pointer updates and events wait for the second half).
              h.pending.unshift(...ops.splice(ops.length >> 1));
              h.afters.unshift(...afters.splice(0));
              h.events.unshift(...events.splice(0));
            } else {
              d.logger.warn("journal append failed; retrying", { segment: h.at.seq, error: String(err) });
              await new Promise((r) => setTimeout(r, Math.min(100 * 2 ** attempt, 2000)));
            }
          }
        }
        if (appended) {
          d.svc.noteOutcomes(outcomesOf(h.at, ops));
          for (const op of ops) settle(h, op, true);
        }
        settleAheads(h);
        for (const after of afters)
          await after().catch((e: unknown) => d.logger.warn("pointer update failed", { error: String(e) }));
        emitEvents(d.ctx, h.at.seg.q, appended ? events : []);
      }
    } finally {
      h.flushing = false;
    }
    holdings.maybeRelease(h);
  }

  /**
   * An op that no longer applies. A running job whose start is refused was cancelled or taken over
   * before its start was stored (a cancel then sends no notice): its handler is stopped here.
   */
  function dropped(h: Held, op: JournalOp): false {
    if (op.op === "start" && h.running.has(op.i)) hooks.stop(jobIdAt(h.at, op.i));
    return settle(h, op, false);
  }

  /** Hands an outcome op, stored or dropped, to the executor (counts, worker events); returns false. */
  function settle(h: Held, op: JournalOp, stored: boolean): false {
    if (op.op === "done" || op.op === "fail" || op.op === "requeue") hooks.settled(h, op, stored);
    return false;
  }

  /** Whether our op still applies after someone else appended (a cancel, a takeover by another worker). */
  function applies(slots: Slot[], op: JournalOp): boolean {
    const s = slots[op.i];
    if (!s || s.outcome) return false;
    if (op.op === "done" || op.op === "fail" || op.op === "requeue" || op.op === "start")
      return s.claim?.a === op.a && s.claim.w === d.workerId;
    return true;
  }

  /**
   * Jobs waiting for their start to be stored: run those whose start is in the journal now, and give
   * up those whose start could not be written (cancelled, or taken by someone else meanwhile).
   */
  function settleAheads(h: Held): void {
    for (const [i, a] of h.aheads) {
      const c = h.journal.slots[i]?.claim;
      if (c?.a === a && c.w === d.workerId && c.st !== undefined && !h.journal.slots[i]!.outcome) {
        h.aheads.delete(i);
        hooks.run(h, i, a, true);
      } else if (!h.pending.some((op) => op.op === "start" && op.i === i)) {
        h.aheads.delete(i);
        slots.finished(h, i);
        slots.startWaiting();
        d.onCapacity();
      }
    }
  }

  return {
    flush,
    flushSoon(h) {
      if (h.flushQueued) return;
      h.flushQueued = true;
      setImmediate(() => {
        h.flushQueued = false;
        if (h.starts.size === 0) return;
        for (const op of h.starts.values()) h.pending.push(op);
        h.starts.clear();
        void flush(h);
      });
    },
    takeStart(h, i) {
      const st = h.starts.get(i);
      if (!st) return undefined;
      h.starts.delete(i);
      return st.at;
    },
  };
}

/**
 * A `start` followed by its job's outcome in the same append is folded into the outcome (`st`): a
 * job that ended before its start was written costs no extra op.
 */
export function foldStarts(ops: JournalOp[]): JournalOp[] {
  let starts = 0;
  for (const op of ops) if (op.op === "start") starts++;
  if (starts === 0) return ops;
  const ended = new Map<number, OutcomeOp>();
  for (const op of ops) if (op.op === "done" || op.op === "fail" || op.op === "requeue") ended.set(op.i, op);
  if (ended.size === 0) return ops;
  const out: JournalOp[] = [];
  for (const op of ops) {
    if (op.op === "start") {
      const end = ended.get(op.i);
      if (end && end.a === op.a) {
        if (end.op !== "requeue" && end.s === undefined) end.s = end.at - op.at;
        continue;
      }
    }
    out.push(op);
  }
  return out;
}
