/**
 * The I/O around the claim rules (store/segments/claims.ts), shared by HTTP fetch and NATS-direct workers:
 * failures are turned into retry copies or discards (store/segments/moves.ts), moved jobs are checked against
 * their pointers before they may run (store/segments/validate.ts), and the matching events are built. The
 * caller decides how many of the runnable jobs it takes, appends everything with compare-and-set and
 * releases the delivery.
 */
import type { JobEvent } from "../jobs/events.js";
import { EventType } from "../jobs/events.js";
import { event } from "../jobs/events.js";
import type { JournalState } from "../journal/journal.js";
import type { JournalOp } from "../journal/journal-ops.js";
import type { ReadMemo } from "../jobs/locator.js";
import { decideFailure } from "./moves.js";
import type { ClaimPlan } from "./claims.js";
import { planClaims } from "./claims.js";
import type { Slot } from "../journal/fold.js";
import type { SegmentAt } from "./segment.js";
import type { Services } from "../infra/services.js";
import { movedHereLocally } from "./local-moves.js";
import { validateMoved } from "./validate.js";

export interface ClaimStep {
  /** Leave the delivery alone: neither claim nor release (see store/segments/claims.ts). */
  leave: boolean;
  /** A moved job's pointer is not written yet: look at the segment again shortly. */
  wait: boolean;
  /** Expiries and failed attempts found on the way (not the claims themselves). */
  ops: JournalOp[];
  events: JobEvent[];
  /** To run once `ops` are appended (home pointers of retry copies). */
  afters: Array<() => Promise<void>>;
  /** Jobs that may run now, in segment order (at most `validate` of them checked and kept). */
  runnable: ClaimPlan[];
  /** Jobs beyond those, not checked: to hand off to others (a copy is checked where it lands). */
  rest: ClaimPlan[];
  /**
   * With `deferChecks`: runnable moved copies whose pointer is not checked yet. They are claimed
   * first, and must not run before their check says `ok` (see claim-segment.ts).
   */
  unchecked: Set<number>;
}

export async function stepClaims(
  svc: Services,
  j: { at: SegmentAt; journal: JournalState; slots: Slot[] },
  nowMs: number,
  o: { firstDelivery: boolean; validate: number; deferChecks?: boolean },
): Promise<ClaimStep> {
  const { at, journal, slots } = j;
  const step: ClaimStep = {
    leave: false,
    wait: false,
    ops: [],
    events: [],
    afters: [],
    runnable: [],
    rest: [],
    unchecked: new Set(),
  };
  const planning = planClaims(at, slots, nowMs, o.firstDelivery);
  if (planning.leave) {
    step.leave = true;
    return step;
  }
  const memo: ReadMemo = new Map();
  for (const p of planning.plans) {
    const i = p.i;
    if (p.kind === "expire") {
      step.ops.push({ op: "expire", i, at: nowMs });
      step.events.push(event(at, i, EventType.Expired, nowMs));
      continue;
    }
    if (p.kind === "fail") {
      const decision = await decideFailure(svc, { at, idx: i, journal, slots }, p.a, p.err, nowMs);
      step.ops.push(decision.op);
      step.afters.push(decision.after);
      const type = decision.retrying ? EventType.Retrying : EventType.Discarded;
      step.events.push(event(at, i, type, nowMs, p.a, p.err.code));
      continue;
    }
    if (step.runnable.length >= o.validate) {
      step.rest.push(p);
      continue;
    }
    // A moved copy is checked before it runs; a copy this process moved here and pointed to needs no
    // read (local-moves.ts). A taken-over claim is checked too: with `deferChecks` a claim may have
    // been stored before its check, by a worker that then died.
    if (at.seg.jobs[i]!.home !== undefined && !(await movedHereLocally(svc.ctx, at.store, at.seq, i))) {
      if (o.deferChecks === true && !p.takeover) {
        // Claimed first, checked once the claim is stored: a copy is delivered as soon as it is
        // published, before its mover has appended the pointer, which has usually landed by then.
        step.unchecked.add(i);
        step.runnable.push(p);
        continue;
      }
      const v = await validateMoved(svc.ctx, svc.locator, at, i, memo);
      if (v === "wait") {
        step.wait = true;
        continue;
      }
      if (v === "orphan") {
        step.ops.push({ op: "expire", i, at: nowMs, orphan: 1 });
        continue;
      }
    }
    step.runnable.push(p);
  }
  return step;
}
