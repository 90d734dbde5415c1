/**
 * The journal of a segment: an append-only list of state changes of its jobs, stored on one subject
 * (`<prefix>.j.<store>.<seq>`) of the journal stream. Every append is a compare-and-set on the
 * subject's last sequence, so each segment's journal is a small linearizable log: a writer folds what
 * it read, decides, and appends only if nobody appended in between; otherwise it reads again.
 * One append usually carries the changes of many jobs (a worker's flush), which is why a job costs a
 * fraction of a write.
 */
import type { Store } from "../../core/ids.js";
import { AGAIN, casLoop, orAgain } from "../infra/cas.js";
import type { Publisher } from "../../nats/publisher.js";
import type { StreamReader } from "../../nats/reader.js";
import { ErrorCode, JetjobError } from "../../core/errors.js";
import type { Slot } from "./fold.js";
import { applyOp, emptySlots, foldJournal } from "./fold.js";
import type { JournalOp } from "./journal-ops.js";

/**
 * A journal as read: the folded slots, the sequence to compare-and-set against, and where the latest
 * snapshot is. Every entry names the latest snapshot entry before it (`base`); every
 * {@link SNAPSHOT_EVERY} entries a writer stores the whole folded state in its entry. So reading costs
 * the last entry plus at most that many others, however long the journal has grown.
 */
export interface JournalState {
  slots: Slot[];
  lastSeq: number;
  /** Sequence of the latest entry that holds a snapshot (0: none). */
  base: number;
  /** Entries after `base` (or in all, without a snapshot). */
  since: number;
}

export const SNAPSHOT_EVERY = 16;

/** A snapshot larger than this is not written (see `append`). */
const SNAPSHOT_MAX_BYTES = 256 * 1024;

/** How many journals a process keeps folded in memory (least recently used go first). */
const CACHED_JOURNALS = 256;
/** ... and at most this many job slots in all (a journal has one per job of its segment). */
const CACHED_SLOTS = 32_768;

interface StoredEntry {
  ops: JournalOp[];
  /** Latest snapshot entry before this one. */
  base?: number;
  /** The folded state before `ops` (this entry starts a new fold). */
  snap?: Slot[];
  /**
   * 1: the journal's first entry (appended with compare-and-set on an empty subject), so a reader
   * that finds it last needs nothing else.
   */
  f?: 1;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

export function emptyJournal(jobCount: number): JournalState {
  return { slots: emptySlots(jobCount), lastSeq: 0, base: 0, since: 0 };
}

export interface Journals {
  read(store: Store, seq: number, jobCount: number): Promise<JournalState>;
  /**
   * Appends `ops` if the journal's last sequence is still `prev.lastSeq` (else throws
   * WrongSequenceError); returns the state after the append. `prev` is not changed.
   */
  append(store: Store, seq: number, ops: JournalOp[], prev: JournalState): Promise<JournalState>;
}

export function createJournals(
  reader: StreamReader,
  publisher: Publisher,
  stream: string,
  subject: (store: Store, seq: number) => string,
): Journals {
  // Journals this process read or wrote lately: a later read folds only the entries added since.
  // The cache keeps its own arrays; slot objects are never changed (see fold.ts), so they are shared.
  // Job views copy what they hand out (a result object, say), which callers of the SDK may change.
  const cache = new Map<string, JournalState>();
  let cachedSlots = 0;
  const forget = (subj: string) => {
    const old = cache.get(subj);
    if (!old) return;
    cachedSlots -= old.slots.length;
    cache.delete(subj);
  };
  const remember = (subj: string, j: JournalState) => {
    forget(subj);
    cache.set(subj, j);
    cachedSlots += j.slots.length;
    while (cache.size > 1 && (cache.size > CACHED_JOURNALS || cachedSlots > CACHED_SLOTS))
      forget(cache.keys().next().value!);
  };
  const copy = (j: JournalState): JournalState => ({ ...j, slots: j.slots.slice() });

  return {
    async read(store, seq, jobCount) {
      const subj = subject(store, seq);
      const last = await reader.get(stream, { lastBySubject: subj });
      if (!last) return emptyJournal(jobCount);
      const known = cache.get(subj);
      if (known && known.slots.length === jobCount && known.lastSeq <= last.seq) {
        if (known.lastSeq === last.seq) return copy(known);
        const j = copy(known);
        for (const m of await entriesUpTo(subj, known.lastSeq + 1, last)) {
          const e = decodeEntry(m.data);
          if (e.snap) {
            j.slots = restore(e.snap, jobCount);
            j.base = m.seq;
            j.since = 0;
          } else j.since++;
          for (const op of e.ops) applyOp(j.slots, op);
          j.lastSeq = m.seq;
        }
        remember(subj, copy(j));
        return j;
      }
      const state = await readFrom(subj, last, jobCount);
      remember(subj, copy(state));
      return state;
    },
    async append(store, seq, ops, prev) {
      const subj = subject(store, seq);
      let snapshot = prev.since >= SNAPSHOT_EVERY;
      let data = snapshot
        ? enc.encode(JSON.stringify({ ops, snap: prev.slots } satisfies StoredEntry))
        : undefined;
      if (data && data.length > SNAPSHOT_MAX_BYTES) {
        // Slots holding large results: a snapshot might not fit in a message. Readers fold from the
        // last snapshot instead (slower, never stuck).
        snapshot = false;
        data = undefined;
      }
      if (!data) {
        const entry: StoredEntry =
          prev.base > 0 ? { ops, base: prev.base } : prev.lastSeq === 0 ? { ops, f: 1 } : { ops };
        data = enc.encode(JSON.stringify(entry));
      }
      const ack = await publisher.publish(subj, data, {
        expectedLastSubjectSeq: prev.lastSeq,
      });
      const slots = prev.slots.slice();
      for (const op of ops) applyOp(slots, op);
      const next = snapshot
        ? { slots, lastSeq: ack.seq, base: ack.seq, since: 0 }
        : { slots, lastSeq: ack.seq, base: prev.base, since: prev.since + 1 };
      remember(subj, copy(next));
      return next;
    },
  };

  /**
   * The entries of a journal from `from` up to `last` (read just before): no read past it, and
   * none at all when `last` is the only one left (a journal's first entry, the one after a known state).
   */
  async function entriesUpTo(
    subj: string,
    from: number,
    last: { seq: number; data: Uint8Array },
  ): Promise<Array<{ seq: number; data: Uint8Array }>> {
    const out: Array<{ seq: number; data: Uint8Array }> = [];
    let seq = from;
    while (seq < last.seq) {
      const m = await reader.get(stream, { nextBySubject: subj, seq });
      if (!m || m.seq >= last.seq) break;
      out.push(m);
      seq = m.seq + 1;
    }
    out.push(last);
    return out;
  }

  async function readFrom(
    subj: string,
    last: { seq: number; data: Uint8Array },
    jobCount: number,
  ): Promise<JournalState> {
    const lastEntry = decodeEntry(last.data);
    if (lastEntry.snap) {
      const slots = foldJournal(
        jobCount,
        [{ seq: last.seq, ops: lastEntry.ops }],
        restore(lastEntry.snap, jobCount),
      );
      return { slots, lastSeq: last.seq, base: last.seq, since: 0 };
    }
    const from = lastEntry.base ?? 0;
    if (lastEntry.f === 1) {
      const slots = emptySlots(jobCount);
      for (const op of lastEntry.ops) applyOp(slots, op);
      return { slots, lastSeq: last.seq, base: 0, since: 1 };
    }
    let slots = emptySlots(jobCount);
    let lastSeq = 0;
    let base = 0;
    let since = 0;
    for (const m of await entriesUpTo(subj, from, last)) {
      const e = decodeEntry(m.data);
      if (e.snap) {
        slots = restore(e.snap, jobCount);
        base = m.seq;
        since = 0;
      } else since++;
      for (const op of e.ops) applyOp(slots, op);
      lastSeq = m.seq;
    }
    return { slots, lastSeq, base, since };
  }
}

/** A stored snapshot, padded to the segment's size (and never longer). */
function restore(snap: Slot[], jobCount: number): Slot[] {
  const slots = emptySlots(jobCount);
  for (let i = 0; i < jobCount && i < snap.length; i++) {
    const s = snap[i];
    if (s && typeof s === "object" && typeof s.lastAttempt === "number") slots[i] = s;
  }
  return slots;
}

/**
 * Decodes one entry. Anything unreadable (for example garbage published on a journal subject by a
 * misbehaving client) is skipped rather than wedging every reader of that journal; the fold also
 * ignores ops that are malformed or do not apply.
 */
function decodeEntry(data: Uint8Array): StoredEntry {
  try {
    const v = JSON.parse(dec.decode(data)) as { ops?: unknown; base?: unknown; snap?: unknown; f?: unknown };
    const e: StoredEntry = { ops: Array.isArray(v.ops) ? (v.ops.filter(isOpShaped) as JournalOp[]) : [] };
    if (typeof v.base === "number") e.base = v.base;
    if (Array.isArray(v.snap)) e.snap = v.snap as Slot[];
    if (v.f === 1) e.f = 1;
    return e;
  } catch {
    return { ops: [] };
  }
}

const opNames = new Set([
  "claim",
  "start",
  "beat",
  "done",
  "fail",
  "requeue",
  "cancel",
  "expire",
  "move",
  "loc",
  "revive",
  "gone",
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
): Promise<{ value: T; slots: Slot[]; lastSeq: number; appended: boolean; journal: JournalState }> {
  return casLoop(
    async (attempt) => {
      const journal =
        options.optimisticEmpty && attempt === 0
          ? emptyJournal(jobCount)
          : await journals.read(store, seq, jobCount);
      const d = await decide(journal, journal.slots, Date.now());
      if (d.ops.length === 0) {
        return { value: d.value, slots: journal.slots, lastSeq: journal.lastSeq, appended: false, journal };
      }
      const next = await orAgain(journals.append(store, seq, d.ops, journal));
      if (next === AGAIN) return AGAIN;
      return { value: d.value, slots: next.slots, lastSeq: next.lastSeq, appended: true, journal: next };
    },
    {
      ...(options.tries === undefined ? {} : { tries: options.tries }),
      exhausted: () => {
        throw new JetjobError(
          ErrorCode.Conflict,
          `segment ${store}.${seq}: too many concurrent journal changes; try again`,
          { retryable: true },
        );
      },
    },
  );
}
