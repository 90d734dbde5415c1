/**
 * The pure rule of segment removal. A segment may be deleted when every job that has a slot in it is
 * gone, or finished and past its retention (finished-at + how long its kind of ending is kept). The
 * only things that reference a segment are the jobs in its slots, so then nothing is lost. Jobs that
 * share a segment are removed together, once the last of them has passed: a job is kept at least its
 * retention, sometimes longer.
 */

/** What became of the job in one slot, followed through its pointers to where it is now. */
export type Fate =
  /** Not finished (waiting, scheduled, running, retrying): look again after `recheckMs` at the latest. */
  | { kind: "active"; recheckMs: number }
  /** Removed already, or not found any more. */
  | { kind: "gone" }
  /** Finished at `at`; kept `keepMs` after that. */
  | { kind: "finished"; at: number; keepMs: number };

export type RemovalDecision =
  /** Every job is gone or past its retention: the segment goes. */
  | { remove: true }
  /** Not yet: look again at `checkAt`. */
  | { remove: false; checkAt: number };

/**
 * Decides whether a segment may go now and, if not, when to look again: when the last finished job
 * passes its retention, and for unfinished jobs no later than their recheck time (they may finish and
 * then need their own retention), whichever is later.
 */
export function decideRemoval(fates: readonly Fate[], nowMs: number): RemovalDecision {
  let expiresAt = -Infinity;
  let recheckAt = -Infinity;
  for (const f of fates) {
    if (f.kind === "finished") expiresAt = Math.max(expiresAt, f.at + f.keepMs);
    else if (f.kind === "active") recheckAt = Math.max(recheckAt, nowMs + f.recheckMs);
  }
  if (recheckAt === -Infinity && expiresAt <= nowMs) return { remove: true };
  return { remove: false, checkAt: Math.max(expiresAt, recheckAt, nowMs) };
}

/** Bits of a check's `flags`: kinds of finished jobs that a queue's count limit lets go before their age. */
export const CountFlag = {
  Completed: 1,
  Discarded: 2,
} as const;
