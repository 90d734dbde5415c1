/**
 * A moved job (retry, requeue, promotion) is published to its new segment before the pointer to it is
 * written. A copy whose pointer never gets written (a crash in between, or a repeated move) must not
 * run. So before a moved job is claimed or promoted, we check that following its pointers from its
 * first home ends here. Jobs that never moved (the hot path) skip this check.
 */
import type { StoreContext } from "../infra/context.js";
import type { Locator, ReadMemo } from "../jobs/locator.js";
import type { SegmentAt } from "./segment.js";
import { jobIdAt, parseJobRef, refKey } from "./segment.js";
import { forwardOf, isGone } from "../journal/fold.js";

/** How long a new copy may wait for its pointer before it is treated as an orphan. */
export const POINTER_GRACE_MS = 60_000;

/**
 * How soon to look again at a copy whose pointer is not written yet: the mover appends it within
 * milliseconds of publishing the copy, so a short delay avoids both a busy loop and a long stall.
 */
export const POINTER_RETRY_MS = 50;

export type MovedValidity = "ok" | "wait" | "orphan";

export async function validateMoved(
  _ctx: StoreContext,
  locator: Locator,
  at: SegmentAt,
  idx: number,
  memo?: ReadMemo,
): Promise<MovedValidity> {
  const spec = at.seg.jobs[idx]!;
  if (spec.home === undefined) return "ok";
  // Usually the first home's pointer leads straight here: one read instead of the whole chain.
  if (await pointsStraightHere(locator, spec.home, at, idx, memo)) return "ok";
  const id = jobIdAt(at, idx);
  const pointsHere = async (m?: ReadMemo) => {
    const loc = await locator.locate(id, m);
    return loc !== undefined && loc.at.store === at.store && loc.at.seq === at.seq && loc.idx === idx;
  };
  if (await pointsHere(memo)) return "ok";
  // A copy read within a moment of its publication usually sees its pointer a millisecond later.
  for (const ms of FRESH_RECHECK_MS) {
    if (Date.now() - at.seg.ts > FRESH_COPY_MS) break;
    await new Promise((r) => setTimeout(r, ms));
    if (await pointsHere()) return "ok";
  }
  return Date.now() - at.seg.ts < POINTER_GRACE_MS ? "wait" : "orphan";
}

/** How young a copy must be for quick re-checks of its pointer, and their delays. */
const FRESH_COPY_MS = 1000;
const FRESH_RECHECK_MS = [1, 2, 4, 8];

/**
 * Whether the pointer at the job's first home (its `loc`, else its forward move, as the locator
 * follows them) names this copy. The callers check that this copy has not moved on itself, so then
 * locating the job ends here; anything else is left to the full lookup.
 */
async function pointsStraightHere(
  locator: Locator,
  home: string,
  at: SegmentAt,
  idx: number,
  memo: ReadMemo | undefined,
): Promise<boolean> {
  const h = parseJobRef(home);
  const state = await locator.readAt(h.store, h.seq, h.idx, memo);
  const slot = state?.slots[state.idx];
  if (!slot || isGone(slot)) return false;
  const next = slot.loc ?? forwardOf(slot);
  return next !== undefined && next.to === refKey(at.store, at.seq) && next.ti === idx;
}
