/**
 * Folding a segment's journal into the state of each of its job slots. Pure and deterministic: every
 * reader that sees the same entries computes the same state, which is what lets any API instance or
 * worker act on a segment after a compare-and-set read.
 *
 * Rules (per slot, entries in order):
 * - the first outcome (done, fail, cancel, expire, move) wins; later ones are ignored;
 * - an outcome for attempt `a` counts only if `a` is the current claim (a stale worker that lost its
 *   lease cannot complete or fail the job: that is the fencing token);
 * - a claim must have a higher attempt than any earlier claim;
 * - a NATS-direct worker's claim (no lease deadline) reserves the job; `start` records that its handler
 *   started. Only a started attempt counts: a reservation lost with its worker is given back uncounted
 *   (`requeue` with `u`), a started one lost with its worker is recorded in `lost` (claim with `l`);
 * - `requeue` gives the current claim back; `beat` extends the current claim's lease;
 * - `revive` (a manual retry) turns a discarded, expired or cancelled slot into a move to a new copy;
 * - `gone` (housekeeping removed the job, or with `i = -1` the whole segment) overrides any outcome,
 *   and nothing applies after it: the job is not found any more.
 */
import type { FailOp, JournalEntry, JournalOp } from "./journal-ops.js";
import type { RefKey } from "../segments/segment.js";

export interface Claim {
  a: number;
  w: string;
  at: number;
  /** Lease deadline (HTTP claims); claims by NATS-direct workers have none: their lease is the delivery. */
  dl?: number;
  ack?: string;
  /** When the handler started (a NATS-direct worker's claim; HTTP claims start when they are made). */
  st?: number;
}

/** An attempt lost with the worker that ran it (it stopped responding while the job ran). */
export interface LostAttempt {
  a: number;
  w: string;
  /** When a new holder found it lost. */
  at: number;
}

/** `st`: when the attempt's handler started, if its claim has no start of its own (see `s` on the ops). */
export type Outcome =
  | { kind: "done"; a: number; at: number; res?: unknown; st?: number }
  | ({ kind: "fail"; st?: number } & Omit<FailOp, "op" | "i" | "s">)
  | { kind: "cancel"; at: number }
  | { kind: "expire"; at: number }
  | { kind: "move"; at: number; to: RefKey; ti: number }
  | { kind: "gone"; at: number };

export interface Slot {
  /** The highest attempt claimed here (0 = never claimed here). */
  lastAttempt: number;
  /** The claim holding the job now (also kept after the outcome, for `started_at`). */
  claim?: Claim;
  outcome?: Outcome;
  /** Latest location pointer, on a job's first home. */
  loc?: { to: RefKey; ti: number };
  requeues: number;
  /** Attempts lost with their workers here, oldest first. */
  lost?: LostAttempt[];
}

const EMPTY_SLOT: Slot = Object.freeze({ lastAttempt: 0, requeues: 0 });

/**
 * Slots are immutable: {@link applyOp} replaces a slot instead of changing it, so folded states can
 * share slot objects (a copy of a state is a copy of its array) and caches never need deep copies.
 */
export function emptySlots(jobCount: number): Slot[] {
  return new Array<Slot>(jobCount).fill(EMPTY_SLOT);
}

/** Folds entries into slots; `slots` may be a previous fold to continue from. */
export function foldJournal(
  jobCount: number,
  entries: readonly JournalEntry[],
  slots: Slot[] = emptySlots(jobCount),
): Slot[] {
  for (const e of entries) for (const op of e.ops) applyOp(slots, op);
  return slots;
}

/** Applies one op to `slots` (the array changes; the slot objects in it never do). */
export function applyOp(slots: Slot[], op: JournalOp): void {
  if (op.op === "gone") {
    // Housekeeping removed the job (or with i = -1 every job of the segment): see store/retention.
    const gone = (): Slot => ({ lastAttempt: 0, requeues: 0, outcome: { kind: "gone", at: op.at } });
    if (op.i < 0) for (let k = 0; k < slots.length; k++) slots[k] = gone();
    else if (op.i < slots.length) slots[op.i] = gone();
    return;
  }
  const s = slots[op.i];
  if (!s) return;
  switch (op.op) {
    case "claim": {
      if (s.outcome || !(op.a > s.lastAttempt)) return;
      const claim: Claim = { a: op.a, w: op.w, at: op.at };
      if (op.dl !== undefined) claim.dl = op.dl;
      if (op.ack !== undefined) claim.ack = op.ack;
      const next: Slot = { ...s, lastAttempt: op.a, claim };
      if (op.l === 1 && s.claim) next.lost = [...(s.lost ?? []), { a: s.claim.a, w: s.claim.w, at: op.at }];
      slots[op.i] = next;
      return;
    }
    case "start":
      if (!s.outcome && s.claim?.a === op.a && s.claim.st === undefined)
        slots[op.i] = { ...s, claim: { ...s.claim, st: op.at } };
      return;
    case "beat":
      if (!s.outcome && s.claim?.a === op.a)
        slots[op.i] = { ...s, claim: { ...s.claim, dl: Math.max(s.claim.dl ?? 0, op.dl) } };
      return;
    case "done": {
      if (s.outcome || s.claim?.a !== op.a) return;
      const outcome: Outcome = { kind: "done", a: op.a, at: op.at };
      if (op.res !== undefined) outcome.res = op.res;
      if (op.s !== undefined) outcome.st = op.at - op.s;
      slots[op.i] = { ...s, outcome };
      return;
    }
    case "fail": {
      if (s.outcome || s.claim?.a !== op.a) return;
      const { op: _op, i: _i, s: started, ...rest } = op;
      const outcome: Outcome = { kind: "fail", ...rest };
      if (started !== undefined) outcome.st = op.at - started;
      slots[op.i] = { ...s, outcome };
      return;
    }
    case "requeue":
      if (!s.outcome && s.claim?.a === op.a) {
        const { claim: _claim, ...rest } = s;
        slots[op.i] = {
          ...rest,
          requeues: s.requeues + 1,
          lastAttempt: op.u === 1 ? op.a - 1 : s.lastAttempt,
        };
      }
      return;
    case "cancel":
      if (!s.outcome) slots[op.i] = { ...s, outcome: { kind: "cancel", at: op.at } };
      return;
    case "expire":
      if (!s.outcome) slots[op.i] = { ...s, outcome: { kind: "expire", at: op.at } };
      return;
    case "move":
      if (!s.outcome) slots[op.i] = { ...s, outcome: { kind: "move", at: op.at, to: op.to, ti: op.ti } };
      return;
    case "loc":
      slots[op.i] = { ...s, loc: { to: op.to, ti: op.ti } };
      return;
    case "revive":
      if (
        (s.outcome?.kind === "fail" && s.outcome.out === "discard") ||
        s.outcome?.kind === "expire" ||
        s.outcome?.kind === "cancel"
      ) {
        slots[op.i] = { ...s, outcome: { kind: "move", at: op.at, to: op.to, ti: op.ti } };
      }
      return;
  }
}

/** Where the job went from this slot, if it left. */
export function forwardOf(s: Slot): { to: RefKey; ti: number } | undefined {
  const o = s.outcome;
  if (o?.kind === "move") return { to: o.to, ti: o.ti };
  if (o?.kind === "fail" && o.out === "retry" && o.to !== undefined && o.ti !== undefined)
    return { to: o.to, ti: o.ti };
  return undefined;
}

/** Whether housekeeping removed the job in this slot (the job is not found any more). */
export function isGone(s: Slot): boolean {
  return s.outcome?.kind === "gone";
}

/** Whether the slot has reached an outcome here (finished, or moved on). */
export function isResolved(s: Slot): boolean {
  return s.outcome !== undefined;
}

/**
 * Whether the holder of the segment's delivery may claim the slot now: no outcome, and either no claim,
 * a claim given back, an HTTP claim whose lease ran out, or a claim without a lease deadline (a
 * NATS-direct worker's; if we hold the delivery, that worker lost it).
 */
export function isClaimable(s: Slot, nowMs: number): boolean {
  if (s.outcome) return false;
  const c = s.claim;
  if (!c) return true;
  if (c.dl === undefined) return true;
  return nowMs > c.dl;
}

/**
 * An open claim that a NATS-direct worker made through its segment delivery (no lease deadline: the
 * delivery is the lease). Whoever gets a later delivery of the segment takes it over, since the old
 * delivery ended. Not on a *first* delivery, though: JetStream then says nobody had the message, so
 * the server lost its delivery state (it was killed and restarted, or the consumer was recreated)
 * while the claim's worker may still be running the job, renewing and acking by stream sequence.
 * Such a delivery is left to run out (see `ReleaseDecision` "leave"), so a dead worker's jobs come
 * back one lease later and a live worker's jobs are not run twice.
 */
export function isDeliveryClaim(s: Slot): boolean {
  return !s.outcome && s.claim !== undefined && s.claim.dl === undefined;
}

/**
 * Whether the claim's attempt began: HTTP claims hand the job out when they are made; a NATS-direct
 * worker's claim only reserves it until its `start`.
 */
export function isStarted(c: Claim): boolean {
  return c.dl !== undefined || c.st !== undefined;
}

/** A live HTTP claim: its lease deadline is in the future. */
export function hasLiveLease(s: Slot, nowMs: number): boolean {
  return !s.outcome && s.claim?.dl !== undefined && s.claim.dl >= nowMs;
}
