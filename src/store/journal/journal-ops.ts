/**
 * The journal's vocabulary: the state changes (ops) a segment's journal records for its jobs, and an
 * entry as read. Pure types, shared by the fold (fold.ts) and the journal's reader/writer (journal.ts).
 */
import type { JobErrorRecord } from "../../core/envelope.js";
import type { RefKey } from "../segments/segment.js";

/**
 * A worker (or an HTTP fetcher) took job `i` for attempt `a`. `dl` = lease deadline of HTTP claims,
 * which hand the job out at once (started). A NATS-direct worker's claim (no `dl`) only reserves the
 * job: the attempt counts once a `start` follows (see fold.ts, store/segments/claims.ts).
 */
export interface ClaimOp {
  op: "claim";
  i: number;
  a: number;
  w: string;
  at: number;
  dl?: number;
  /** The ack subject of the segment delivery that made the claim (lets any instance release it). */
  ack?: string;
  /** The previous claim (attempt `a - 1`, started) was lost with its worker: recorded as a lost attempt. */
  l?: 1;
}
/** The handler of attempt `a` of job `i` (a NATS-direct worker's claim) started at `at`. */
export interface StartOp {
  op: "start";
  i: number;
  a: number;
  at: number;
}
/** The lease of attempt `a` of job `i` now ends at `dl`. */
export interface BeatOp {
  op: "beat";
  i: number;
  a: number;
  dl: number;
}
export interface DoneOp {
  op: "done";
  i: number;
  a: number;
  at: number;
  res?: unknown;
  /**
   * How many ms before `at` the handler started, when no `start` op was written for it (a job that
   * ended before its start went out carries it here: a few bytes instead of an op).
   */
  s?: number;
}
/** Attempt `a` failed; the job either moved to `to` for a retry, or was discarded. */
export interface FailOp {
  op: "fail";
  i: number;
  a: number;
  at: number;
  err: JobErrorRecord;
  out: "retry" | "discard";
  to?: RefKey;
  ti?: number;
  retryAt?: number;
  delay?: number;
  dlq?: boolean;
  /** As on `done`. */
  s?: number;
}
/**
 * Attempt `a` is given back without a failure. With `u` (undo) the job never started (a worker
 * shutting down returns jobs it had claimed but not run), so the attempt is not counted.
 */
export interface RequeueOp {
  op: "requeue";
  i: number;
  a: number;
  at: number;
  u?: 1;
}
export interface CancelOp {
  op: "cancel";
  i: number;
  at: number;
}
/** The job's `expires_at` passed before it ran. */
export interface ExpireOp {
  op: "expire";
  i: number;
  at: number;
  /**
   * The copy is void, not the job expired: a moved copy whose pointer never named it (validate.ts).
   * The job lives on elsewhere, so this is no outcome of it (no key release, no dead letter).
   */
  orphan?: 1;
}
/** The job moved on without running here (a scheduled job became available). */
export interface MoveOp {
  op: "move";
  i: number;
  at: number;
  to: RefKey;
  ti: number;
}
/** Written on a job's first home: where the job is now (so lookups take two hops at most). */
export interface LocOp {
  op: "loc";
  i: number;
  to: RefKey;
  ti: number;
}

/** A discarded job is retried by hand from the dead-letter queue: it continues at `to` with fresh attempts. */
export interface ReviveOp {
  op: "revive";
  i: number;
  at: number;
  to: RefKey;
  ti: number;
}

/**
 * Housekeeping removed job `i` (its retention passed), or with `i = -1` the whole segment, which is
 * deleted next. Nothing applies after it (see store/retention/segments.ts).
 */
export interface GoneOp {
  op: "gone";
  i: number;
  at: number;
}

export type JournalOp =
  | ClaimOp
  | StartOp
  | BeatOp
  | DoneOp
  | FailOp
  | RequeueOp
  | CancelOp
  | ExpireOp
  | MoveOp
  | LocOp
  | ReviveOp
  | GoneOp;

export interface JournalEntry {
  seq: number;
  ops: JournalOp[];
}
