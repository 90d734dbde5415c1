/**
 * The claim rules, one for both doors: given the folded slots of a delivered segment, which jobs the
 * holder of the delivery may take now, and what happens to the others. HTTP fetch (store/segments/fetch.ts)
 * and NATS-direct workers (worker/segments.ts) both plan with {@link planClaims} (through
 * store/segments/claim-step.ts), so a job cannot be treated one way at one door and another way at the other.
 * Pure: the I/O (publishing retry copies, validating moved jobs, appending) is left to the callers.
 *
 * Per slot without an outcome, in this order:
 * 1. an HTTP claim past its execution timeout (`timeout_ms`) fails that attempt (`timeout`);
 * 2. a live HTTP lease is left alone;
 * 3. `expires_at` passed before the job ran: it expires;
 * 4. a claim whose holder is gone (an HTTP lease ran out, or a NATS-direct worker's claim in a
 *    delivery we now hold: that worker lost the delivery):
 *    - not started (a NATS worker reserved it but its handler never began): given back without
 *      counting and claimed again for the same attempt, so a crash never uses up an attempt of a job
 *      that did not run;
 *    - started, and it was the job's last attempt: fails with `lease_expired`;
 *    - started, attempts left: recorded as a lost attempt and claimed for the next one;
 * 5. otherwise it is claimed for its next attempt.
 * On a first delivery that finds a NATS-direct claim, the whole segment is left alone: the server lost
 * its delivery state while that worker may still run the job (see `isDeliveryClaim`).
 */
import type { JobErrorRecord } from "../../core/envelope.js";
import type { Claim, Slot } from "../journal/fold.js";
import { isClaimable, isDeliveryClaim, isStarted } from "../journal/fold.js";
import type { ClaimOp, JournalOp } from "../journal/journal-ops.js";
import type { SegmentAt } from "./segment.js";
import { lostError, retryPolicyOf, timeoutError } from "../jobs/view.js";

export type SlotPlan =
  | { kind: "expire"; i: number }
  /** Attempt `a` ends as a failure (`err.code`: `timeout` or `lease_expired`); retried or discarded by policy. */
  | { kind: "fail"; i: number; a: number; err: JobErrorRecord }
  | ClaimPlan;

export interface ClaimPlan {
  kind: "claim";
  i: number;
  /** The attempt to claim. */
  a: number;
  /**
   * The claim this one replaces (its holder is gone): `unstarted` is given back uncounted, `started`
   * is recorded as a lost attempt.
   */
  takeover?: { from: Claim; started: boolean };
}

export interface ClaimPlanning {
  /** Leave the delivery alone (neither claim nor release): see the module comment. */
  leave: boolean;
  plans: SlotPlan[];
}

export function planClaims(
  at: SegmentAt,
  slots: readonly Slot[],
  nowMs: number,
  firstDelivery: boolean,
): ClaimPlanning {
  if (firstDelivery && slots.some(isDeliveryClaim)) return { leave: true, plans: [] };
  const plans: SlotPlan[] = [];
  for (let i = 0; i < slots.length; i++) {
    const s = slots[i]!;
    if (s.outcome) continue;
    const spec = at.seg.jobs[i]!;
    const c = s.claim;
    if (c?.dl !== undefined && spec.timeoutMs !== undefined && nowMs > c.at + spec.timeoutMs) {
      plans.push({ kind: "fail", i, a: c.a, err: timeoutError(spec, c.a, c.at + spec.timeoutMs) });
      continue;
    }
    if (!isClaimable(s, nowMs)) continue;
    if (spec.expiresAt !== undefined && nowMs > spec.expiresAt) {
      plans.push({ kind: "expire", i });
      continue;
    }
    if (!c) {
      plans.push({ kind: "claim", i, a: Math.max(s.lastAttempt, spec.attempt ?? 0) + 1 });
      continue;
    }
    if (!isStarted(c)) {
      plans.push({ kind: "claim", i, a: c.a, takeover: { from: c, started: false } });
      continue;
    }
    if (c.a >= retryPolicyOf(spec).maxAttempts) {
      plans.push({ kind: "fail", i, a: c.a, err: lostError(c, nowMs) });
      continue;
    }
    plans.push({ kind: "claim", i, a: c.a + 1, takeover: { from: c, started: true } });
  }
  return { leave: false, plans };
}

/** A plan as a job to hand off (store/segments/moves.ts `handOffJobs`): a started takeover carries its lost attempt. */
export function handOffEntry(p: ClaimPlan, nowMs: number): { i: number; a: number; lost?: JobErrorRecord } {
  return p.takeover?.started
    ? { i: p.i, a: p.a, lost: lostError(p.takeover.from, nowMs) }
    : { i: p.i, a: p.a };
}

/**
 * The ops that make `p`'s claim: a takeover of a claim that never started first gives it back
 * uncounted; one of a started claim marks it lost.
 */
export function claimOps(
  p: ClaimPlan,
  claim: { w: string; at: number; dl?: number; ack?: string },
): JournalOp[] {
  const op: ClaimOp = { op: "claim", i: p.i, a: p.a, w: claim.w, at: claim.at };
  if (claim.dl !== undefined) op.dl = claim.dl;
  if (claim.ack !== undefined) op.ack = claim.ack;
  if (!p.takeover) return [op];
  if (p.takeover.started) {
    op.l = 1;
    return [op];
  }
  return [{ op: "requeue", i: p.i, a: p.takeover.from.a, at: claim.at, u: 1 }, op];
}
