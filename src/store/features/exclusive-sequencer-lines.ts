/**
 * The sequencer's memory (exclusive-sequencer.ts): per exclusive key, the holder and the jobs waiting
 * behind it in stream order, and the journals of the hold segments that still have waiting jobs.
 * No I/O here; the sequencer reads and writes, this keeps what it learnt.
 */
import type { JournalState } from "../journal/journal.js";
import { keyToken } from "../infra/topology.js";
import type { SegmentAt } from "../segments/segment.js";
import { jobIdAt } from "../segments/segment.js";

export interface Holder {
  job: string;
  q: string;
  /** When it took the key (ms since the epoch): what users see as the holder's `since`. */
  since: number;
  /** When the leader last made sure it is alive (0: found by a new leader, to be checked at once). */
  checked: number;
}

export interface Line {
  key: string;
  holder?: Holder;
  waiting: Array<{ at: SegmentAt; idx: number }>;
}

/** One key as the sequencer knows it (the answer to a view request). */
export interface SequencedKey {
  key: string;
  holder?: Omit<Holder, "checked">;
  /** Waiting jobs per queue (expired ones left out). */
  waiting: Record<string, number>;
}

export interface KeyLines {
  readonly lines: ReadonlyMap<string, Line>;
  /** Keys that may be handed on (a free key with waiting jobs, or one just released). */
  readonly due: Set<string>;
  /** A hold segment read in stream order, with its journal: its jobs join their keys' lines. */
  addSegment(at: SegmentAt, journal: JournalState): void;
  /** `job` of key `token` reached a final state: the holder gives its key up; a waiting job leaves. */
  release(token: string, job: string): void;
  /** The journal of a hold segment that has waiting jobs, as last known. */
  journalOf(seq: number): JournalState | undefined;
  /** A newer journal of a hold segment (read or written by a move). */
  learnJournal(seq: number, journal: JournalState): void;
  /** Takes the key's first waiting job off its line (it moved on, or will never run). */
  dropHead(token: string): void;
  /** The key's first waiting job becomes its holder and leaves the line. */
  takeHead(token: string, now: number): void;
  /** A holder that did not move after all goes back to the head of its line, and the key is free. */
  putBack(token: string, at: SegmentAt, idx: number, journal: JournalState): void;
  /** Forgets a key with neither holder nor waiting jobs. */
  forgetIdle(token: string): void;
  /** Every key that is held or has waiting jobs. */
  view(now: number): SequencedKey[];
}

export function createKeyLines(): KeyLines {
  const lines = new Map<string, Line>();
  const journals = new Map<number, { journal: JournalState; waiting: number }>();
  const due = new Set<string>();

  const lineOf = (token: string, key: string): Line => {
    let l = lines.get(token);
    if (!l) lines.set(token, (l = { key, waiting: [] }));
    return l;
  };
  const left = (seq: number): void => {
    const j = journals.get(seq);
    if (j && --j.waiting <= 0) journals.delete(seq);
  };
  const joined = (seq: number, journal: JournalState): void => {
    const j = journals.get(seq);
    if (j) j.waiting++;
    else journals.set(seq, { journal, waiting: 1 });
  };

  return {
    lines,
    due,
    addSegment(at, journal) {
      at.seg.jobs.forEach((spec, idx) => {
        if (spec.xkey === undefined) return;
        const token = keyToken(spec.xkey);
        const outcome = journal.slots[idx]!.outcome;
        if (outcome === undefined) {
          lineOf(token, spec.xkey).waiting.push({ at, idx });
          joined(at.seq, journal);
          due.add(token);
        } else if (outcome.kind === "move") {
          // Moved into a lane by an earlier leader: the latest such job holds the key unless it has
          // finished, which the holder check looks at right away.
          lineOf(token, spec.xkey).holder = {
            job: jobIdAt(at, idx),
            q: at.seg.q,
            since: outcome.at,
            checked: 0,
          };
        }
      });
    },
    release(token, job) {
      const line = lines.get(token);
      if (!line) return;
      if (line.holder?.job === job) {
        delete line.holder;
        due.add(token);
        return;
      }
      const i = line.waiting.findIndex((w) => jobIdAt(w.at, w.idx) === job);
      if (i < 0) return;
      const [w] = line.waiting.splice(i, 1);
      left(w!.at.seq);
    },
    journalOf: (seq) => journals.get(seq)?.journal,
    learnJournal(seq, journal) {
      const j = journals.get(seq);
      if (j && journal.lastSeq > j.journal.lastSeq) j.journal = journal;
    },
    dropHead(token) {
      const w = lines.get(token)?.waiting.shift();
      if (w) left(w.at.seq);
    },
    takeHead(token, now) {
      const line = lines.get(token);
      const w = line?.waiting.shift();
      if (!line || !w) return;
      line.holder = { job: jobIdAt(w.at, w.idx), q: w.at.seg.q, since: now, checked: now };
      left(w.at.seq);
    },
    putBack(token, at, idx, journal) {
      const line = lineOf(token, at.seg.jobs[idx]!.xkey!);
      delete line.holder;
      line.waiting.unshift({ at, idx });
      joined(at.seq, journal);
      due.add(token);
    },
    forgetIdle(token) {
      const line = lines.get(token);
      if (line && !line.holder && line.waiting.length === 0) lines.delete(token);
    },
    view(now) {
      const keys: SequencedKey[] = [];
      for (const line of lines.values()) {
        const k: SequencedKey = { key: line.key, waiting: {} };
        if (line.holder) k.holder = { job: line.holder.job, q: line.holder.q, since: line.holder.since };
        for (const w of line.waiting) {
          const spec = w.at.seg.jobs[w.idx]!;
          if (journals.get(w.at.seq)?.journal.slots[w.idx]!.outcome) continue;
          if (spec.expiresAt !== undefined && now > spec.expiresAt) continue;
          k.waiting[w.at.seg.q] = (k.waiting[w.at.seg.q] ?? 0) + 1;
        }
        if (k.holder || Object.keys(k.waiting).length > 0) keys.push(k);
      }
      return keys;
    },
  };
}
