/**
 * Claiming the jobs of a segment the producer (producer.ts) took: one journal append with the claims,
 * expiries and hand-offs (store/segments/claims.ts, claim-step.ts), then the claimed jobs wait for a
 * slot. Module functions over the producer's state ({@link ProducerState}), which its rebalancing
 * (rebalance.ts) shares.
 */
import { Store } from "../core/ids.js";
import { stepClaims } from "../store/segments/claim-step.js";
import type { ClaimStep } from "../store/segments/claim-step.js";
import { claimOps, handOffEntry } from "../store/segments/claims.js";
import { emitEvents } from "../store/jobs/events.js";
import type { Slot } from "../store/journal/fold.js";
import type { JournalOp } from "../store/journal/journal-ops.js";
import type { JournalState } from "../store/journal/journal.js";
import { decideAndAppend } from "../store/journal/journal.js";
import { handOffJobs } from "../store/segments/moves.js";
import { decideRelease } from "../store/segments/release.js";
import type { SegmentAt } from "../store/segments/segment.js";
import { outcomesOf } from "../store/infra/services.js";
import type { ReadMemo } from "../store/jobs/locator.js";
import { POINTER_RETRY_MS, validateMoved } from "../store/segments/validate.js";
import { movedNotice } from "../store/segments/local-moves.js";
import type { Completer } from "./completer.js";
import type { Holdings } from "./lease.js";
import type { Held, RunnerDeps } from "./runner-state.js";
import type { Slots } from "./slots.js";
import { DEFAULT_UNHANDLED_JOB_TIMEOUT_MS, planUnhandled } from "./unhandled.js";

/** The producer's state: the runner's dependencies and parts, and what the producer itself keeps. */
export interface ProducerState {
  d: RunnerDeps;
  holdings: Holdings;
  slots: Slots;
  completer: Completer;
  isDraining: () => boolean;
  /** Types this worker was given jobs of without a handler: said once each in the log. */
  unhandledTypes: Set<string>;
  /** A rebalance is running (rebalance.ts): the timer does not start another. */
  rebalancing: boolean;
}

/** Logs, once per type, that this worker has no handler for some of a segment's jobs. */
function noteUnhandled(p: ProducerState, at: SegmentAt, plans: Array<{ i: number }>): void {
  for (const plan of plans) {
    const type = at.seg.jobs[plan.i]!.type;
    if (p.unhandledTypes.has(type)) continue;
    p.unhandledTypes.add(type);
    p.d.logger.warn("no handler for a job type; handing such jobs back for other workers", {
      type,
      queue: at.seg.q,
      handlers: Object.keys(p.d.handlers),
    });
  }
}

/** Moves jobs of a held segment to new segments (for other workers, or later). */
export function handOff(
  p: ProducerState,
  at: SegmentAt,
  journal: JournalState,
  slotList: Slot[],
  jobs: Parameters<typeof handOffJobs>[2],
  now: number,
): ReturnType<typeof handOffJobs> {
  return handOffJobs(
    p.d.svc,
    { at, idx: 0, journal, slots: slotList },
    jobs,
    Math.max(1, p.d.concurrency),
    now,
  );
}

/**
 * Decides a newly held segment's append: expiries and failed attempts (stepClaims), jobs without a
 * handler here given back (unhandled.ts), claims for the runnable jobs, the rest handed off.
 */
async function decideClaims(
  p: ProducerState,
  at: SegmentAt,
  j: { journal: JournalState; slots: Slot[]; now: number },
  firstDelivery: boolean,
  counted: number,
): Promise<{ step: ClaimStep; ops: JournalOp[] }> {
  const { d, slots } = p;
  const { journal, slots: slotList, now } = j;
  const hold = Math.max(0, slots.freeFor(at.seg.q) + counted + d.prefetch);
  const step = await stepClaims(d.svc, { at, journal, slots: slotList }, now, {
    firstDelivery,
    validate: hold,
    deferChecks: true,
  });
  const ops = step.ops;
  // Jobs this worker has no handler for go back for others, uncounted (unhandled.ts).
  const unhandled = step.runnable.filter((r) => !d.handlers[at.seg.jobs[r.i]!.type]);
  if (unhandled.length > 0) {
    step.runnable = step.runnable.filter((r) => d.handlers[at.seg.jobs[r.i]!.type]);
    noteUnhandled(p, at, unhandled);
    const u = await planUnhandled(d.svc, { at, journal, slots: slotList }, unhandled, now, {
      workerId: d.workerId,
      timeoutMs: d.unhandledJobTimeoutMs ?? DEFAULT_UNHANDLED_JOB_TIMEOUT_MS,
    });
    ops.push(...u.ops);
    step.events.push(...u.events);
    step.afters.push(...u.afters);
  }
  for (const r of step.runnable) ops.push(...claimOps(r, { w: d.workerId, at: now }));
  if (step.rest.length > 0) {
    const entries = step.rest.map((r) => handOffEntry(r, now));
    const moved = await handOff(p, at, journal, slotList, entries, now);
    ops.push(...moved.ops);
    if (moved.after) step.afters.push(moved.after);
  }
  return { step, ops };
}

/** Decides and appends the claims (and expiries, splits) for a newly held segment. */
export async function claimSegment(
  p: ProducerState,
  h: Held,
  firstDelivery: boolean,
  counted: number,
): Promise<void> {
  const { d, holdings, slots } = p;
  const { at } = h;
  const r = await decideAndAppend(
    d.ctx.journals,
    Store.Queue,
    at.seq,
    at.seg.jobs.length,
    async (journal, slotList, now) => {
      const { step, ops } = await decideClaims(
        p,
        at,
        { journal, slots: slotList, now },
        firstDelivery,
        counted,
      );
      return { ops, value: { step, now, ops } };
    },
    { optimisticEmpty: firstDelivery },
  );
  h.journal = r.journal;
  const { step, now, ops } = r.value;
  d.svc.noteOutcomes(outcomesOf(at, ops));
  if (!r.appended) {
    holdings.release(
      h,
      step.leave
        ? { kind: "leave" }
        : step.wait
          ? { kind: "nak", delayMs: POINTER_RETRY_MS }
          : decideRelease(r.slots, now, undefined, at.seg.jobs),
    );
    return;
  }
  for (const after of step.afters) {
    await after().catch((e: unknown) => d.logger.warn("pointer update failed", { error: String(e) }));
  }
  const memo: ReadMemo = new Map();
  for (const c of step.runnable) {
    if (step.unchecked.has(c.i)) checkClaimed(p, h, c, now, memo);
    else queueClaimed(p, h, c, now);
  }
  if (h.pending.length > 0) void p.completer.flush(h);
  slots.startWaiting();
  emitEvents(d.ctx, at.seg.q, step.events);
  holdings.maybeRelease(h);
}

/** A claimed job waits for a slot, or goes back unstarted if the worker began to stop meanwhile. */
function queueClaimed(p: ProducerState, h: Held, c: ClaimStep["runnable"][number], now: number): void {
  if (p.isDraining()) {
    // The worker began to stop while this claim was being written: give the jobs back unstarted
    // (drain() has already handed back the waiting list, so queuing them would hold it forever).
    h.pending.push({ op: "requeue", i: c.i, a: c.a, at: Date.now(), u: 1 });
    return;
  }
  const suspect = c.takeover?.started === true;
  p.slots.wait({ h, i: c.i, a: c.a, since: now, ahead: c.takeover !== undefined, suspect });
}

/**
 * A moved copy claimed before its pointer was checked (claim-step.ts `deferChecks`): it holds its
 * segment and a slot meanwhile, and runs once the check says `ok`. An orphan's claim is expired as
 * void (the job lives elsewhere); a copy still without its pointer is looked at again shortly, or
 * given back unclaimed if the worker stops.
 */
function checkClaimed(
  p: ProducerState,
  h: Held,
  c: ClaimStep["runnable"][number],
  now: number,
  memo: ReadMemo,
): void {
  const { d, slots, holdings } = p;
  const q = h.at.seg.q;
  h.queued++;
  slots.claiming(q, 1);
  const settle = async (): Promise<void> => {
    // An announced move: its notice usually comes as the claim is stored, and saves the reads.
    let v =
      h.at.seg.an === 1 && (await movedNotice(d.ctx, h.at.store, h.at.seq, c.i))
        ? ("ok" as const)
        : await validateMoved(d.ctx, d.locator, h.at, c.i, memo).catch(() => "wait" as const);
    while (v === "wait" && !p.isDraining()) {
      await new Promise((r) => setTimeout(r, POINTER_RETRY_MS));
      v = await validateMoved(d.ctx, d.locator, h.at, c.i).catch(() => "wait" as const);
    }
    h.queued--;
    slots.claiming(q, -1);
    if (v === "ok") queueClaimed(p, h, c, now);
    else if (v === "orphan") h.pending.push({ op: "expire", i: c.i, at: Date.now(), orphan: 1 });
    else h.pending.push({ op: "requeue", i: c.i, a: c.a, at: Date.now(), u: 1 });
    if (h.pending.length > 0) void p.completer.flush(h);
    slots.startWaiting();
    holdings.maybeRelease(h);
  };
  void settle();
}
