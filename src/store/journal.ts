/**
 * The journal of a segment: an append-only list of state changes of its jobs, stored on one subject
 * (`<prefix>.j.<store>.<seq>`) of the journal stream. Every append is a compare-and-set on the
 * subject's last sequence, so each segment's journal is a small linearizable log: a writer folds what
 * it read, decides, and appends only if nobody appended in between; otherwise it reads again.
 * One append usually carries the changes of many jobs (a worker's flush), which is why a job costs a
 * fraction of a write.
 */
import type { JobErrorRecord } from "../core/envelope.js";
import type { Store } from "../core/ids.js";
import { WrongSequenceError } from "../nats/publisher.js";
import type { Publisher } from "../nats/publisher.js";
import type { StreamReader } from "../nats/reader.js";
import { ErrorCode, JetjobError } from "../core/errors.js";
import type { Slot } from "./fold.js";
import { applyOp, foldJournal } from "./fold.js";
import type { RefKey } from "./segment.js";

/** A worker (or an HTTP fetcher) took job `i` for attempt `a`. `dl` = lease deadline of HTTP claims. */
export interface ClaimOp {
  op: "claim";
  i: number;
  a: number;
  w: string;
  at: number;
  dl?: number;
  /** The ack subject of the segment delivery that made the claim (lets any instance release it). */
  ack?: string;
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

export type JournalOp =
  ClaimOp | BeatOp | DoneOp | FailOp | RequeueOp | CancelOp | ExpireOp | MoveOp | LocOp | ReviveOp;

export interface JournalEntry {
  seq: number;
  ops: JournalOp[];
}

/** A journal as read: its entries and the sequence to compare-and-set against. */
export interface JournalState {
  entries: JournalEntry[];
  lastSeq: number;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

export interface Journals {
  read(store: Store, seq: number): Promise<JournalState>;
  /** Appends if the journal's last sequence is still `expectedLastSeq`; returns the new one. */
  append(store: Store, seq: number, ops: JournalOp[], expectedLastSeq: number): Promise<number>;
}

export function createJournals(
  reader: StreamReader,
  publisher: Publisher,
  stream: string,
  subject: (store: Store, seq: number) => string,
): Journals {
  return {
    async read(store, seq) {
      const msgs = await reader.all(stream, subject(store, seq));
      const entries: JournalEntry[] = [];
      for (const m of msgs) entries.push({ seq: m.seq, ops: decodeOps(m.data) });
      return { entries, lastSeq: msgs.length > 0 ? msgs[msgs.length - 1]!.seq : 0 };
    },
    async append(store, seq, ops, expectedLastSeq) {
      const ack = await publisher.publish(subject(store, seq), enc.encode(JSON.stringify({ ops })), {
        expectedLastSubjectSeq: expectedLastSeq,
      });
      return ack.seq;
    },
  };
}

/**
 * Decodes one entry. Anything unreadable (for example garbage published on a journal subject by a
 * misbehaving client) is skipped rather than wedging every reader of that journal; the fold also
 * ignores ops that are malformed or do not apply.
 */
function decodeOps(data: Uint8Array): JournalOp[] {
  try {
    const v = JSON.parse(dec.decode(data)) as { ops?: unknown };
    if (!Array.isArray(v.ops)) return [];
    return v.ops.filter(isOpShaped) as JournalOp[];
  } catch {
    return [];
  }
}

const opNames = new Set([
  "claim",
  "beat",
  "done",
  "fail",
  "requeue",
  "cancel",
  "expire",
  "move",
  "loc",
  "revive",
]);

function isOpShaped(o: unknown): boolean {
  if (!o || typeof o !== "object") return false;
  const r = o as { op?: unknown; i?: unknown };
  return typeof r.op === "string" && opNames.has(r.op) && typeof r.i === "number" && Number.isInteger(r.i);
}

/** What a decision appends, and what it means to the caller. */
export interface Decision<T> {
  ops: JournalOp[];
  value: T;
}

export interface DecideOptions {
  /** Skip the first read and append against an empty journal (a segment on its first delivery). */
  optimisticEmpty?: boolean;
  /** @defaultValue 20 */
  tries?: number;
}

/**
 * The compare-and-set loop every writer uses: read the journal, fold it, decide, append only if no one
 * appended in between; otherwise read again and decide again. Returns the decision's value and the
 * slots with its ops applied (no append when the decision has no ops).
 */
export async function decideAndAppend<T>(
  journals: Journals,
  store: Store,
  seq: number,
  jobCount: number,
  decide: (j: JournalState, slots: Slot[], nowMs: number) => Promise<Decision<T>> | Decision<T>,
  options: DecideOptions = {},
): Promise<{ value: T; slots: Slot[]; lastSeq: number; appended: boolean }> {
  const tries = options.tries ?? 20;
  for (let attempt = 0; attempt < tries; attempt++) {
    const journal: JournalState =
      options.optimisticEmpty && attempt === 0
        ? { entries: [], lastSeq: 0 }
        : await journals.read(store, seq);
    const slots = foldJournal(jobCount, journal.entries);
    const d = await decide(journal, slots, Date.now());
    if (d.ops.length === 0) return { value: d.value, slots, lastSeq: journal.lastSeq, appended: false };
    let lastSeq: number;
    try {
      lastSeq = await journals.append(store, seq, d.ops, journal.lastSeq);
    } catch (err) {
      if (err instanceof WrongSequenceError) continue;
      throw err;
    }
    for (const op of d.ops) applyOp(slots, op);
    return { value: d.value, slots, lastSeq, appended: true };
  }
  throw new JetjobError(
    ErrorCode.Conflict,
    `segment ${store}.${seq}: too many concurrent journal changes; try again`,
    {
      retryable: true,
    },
  );
}
