/**
 * The exclusive-key sequencer's memory (exclusive-sequencer-lines.ts): lines in stream order, holders
 * found by a new leader, releases of holders and of waiting jobs, and what the view shows.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import type { JobSpec } from "../../src/core/envelope.js";
import { Store } from "../../src/core/ids.js";
import { createKeyLines } from "../../src/store/features/exclusive-sequencer-lines.js";
import { keyToken } from "../../src/store/infra/topology.js";
import { emptySlots } from "../../src/store/journal/fold.js";
import type { Slot } from "../../src/store/journal/fold.js";
import type { JournalState } from "../../src/store/journal/journal.js";
import type { SegmentAt } from "../../src/store/segments/segment.js";
import { jobIdAt } from "../../src/store/segments/segment.js";

function segment(seq: number, keys: string[], extra: Partial<JobSpec> = {}): SegmentAt {
  const jobs = keys.map((xkey) => ({ type: "t", args: [], xkey, ...extra }));
  return { store: Store.Delay, seq, seg: { v: 1, ts: 1, r: 0, q: "q", p: 0, jobs } };
}

function journal(n: number, lastSeq = 0, set: Record<number, Slot["outcome"]> = {}): JournalState {
  const slots = emptySlots(n).map((s, i) => (set[i] ? { ...s, outcome: set[i] } : s));
  return { slots, lastSeq, base: 0, since: 0 };
}

describe("sequencer lines", () => {
  it("keeps each key's jobs in stream order across segments, and hands the head on", () => {
    const lines = createKeyLines();
    const a = segment(10, ["A", "B", "A"]);
    const b = segment(11, ["A"]);
    lines.addSegment(a, journal(3));
    lines.addSegment(b, journal(1));
    assert.deepEqual([...lines.due].sort(), [keyToken("A"), keyToken("B")]);
    const A = keyToken("A");
    assert.deepEqual(
      lines.lines.get(A)!.waiting.map((w) => jobIdAt(w.at, w.idx)),
      [jobIdAt(a, 0), jobIdAt(a, 2), jobIdAt(b, 0)],
    );
    lines.takeHead(A, 5);
    assert.equal(lines.lines.get(A)!.holder?.job, jobIdAt(a, 0));
    assert.equal(lines.lines.get(A)!.waiting.length, 2);
    // A release for another job changes nothing; the holder's frees the key and makes it due.
    lines.due.clear();
    lines.release(A, jobIdAt(b, 0));
    assert.equal(lines.lines.get(A)!.holder?.job, jobIdAt(a, 0));
    assert.equal(lines.lines.get(A)!.waiting.length, 1, "a released waiting job leaves the line");
    assert.equal(lines.due.size, 0);
    lines.release(A, jobIdAt(a, 0));
    assert.equal(lines.lines.get(A)!.holder, undefined);
    assert.deepEqual([...lines.due], [A]);
  });

  it("a new leader takes the last moved job of a key as its holder, and skips finished ones", () => {
    const lines = createKeyLines();
    const at = segment(20, ["K", "K", "K", "K"]);
    const move = { kind: "move" as const, at: 1, to: "1.5" as never, ti: 0 };
    const moved = { ...move, at: 1_700_000_000_000 };
    lines.addSegment(at, journal(4, 3, { 0: move, 1: moved, 2: { kind: "cancel", at: 1 } }));
    const line = lines.lines.get(keyToken("K"))!;
    assert.equal(line.holder?.job, jobIdAt(at, 1));
    assert.equal(line.holder?.checked, 0, "checked at once");
    assert.equal(line.holder?.since, moved.at, "held since its move, not since the new leader came");
    assert.deepEqual(lines.view(2)[0]!.holder, { job: jobIdAt(at, 1), q: "q", since: moved.at });
    assert.deepEqual(
      line.waiting.map((w) => w.idx),
      [3],
    );
  });

  it("shows held keys and waiting counts per queue, without expired or finished jobs", () => {
    const lines = createKeyLines();
    const at = segment(30, ["V", "V", "V"]);
    at.seg.jobs[2]!.expiresAt = 100;
    lines.addSegment(at, journal(3));
    const V = keyToken("V");
    lines.takeHead(V, 7);
    assert.deepEqual(lines.view(50), [
      { key: "V", holder: { job: jobIdAt(at, 0), q: "q", since: 7 }, waiting: { q: 2 } },
    ]);
    assert.deepEqual(lines.view(200)[0]!.waiting, { q: 1 }, "an expired job is not counted");
    lines.learnJournal(30, journal(3, 9, { 1: { kind: "cancel", at: 1 } }));
    assert.deepEqual(lines.view(50)[0]!.waiting, { q: 1 }, "a job cancelled since is not counted");
  });

  it("puts a holder that did not move back at the head, and forgets idle keys", () => {
    const lines = createKeyLines();
    const at = segment(40, ["P", "P"]);
    const j = journal(2);
    lines.addSegment(at, j);
    const P = keyToken("P");
    lines.takeHead(P, 1);
    lines.due.clear();
    lines.putBack(P, at, 0, j);
    assert.equal(lines.lines.get(P)!.holder, undefined);
    assert.deepEqual(
      lines.lines.get(P)!.waiting.map((w) => w.idx),
      [0, 1],
    );
    assert.deepEqual([...lines.due], [P]);
    assert.ok(lines.journalOf(40), "the segment's journal is kept while jobs wait");
    lines.dropHead(P);
    lines.dropHead(P);
    assert.equal(lines.journalOf(40), undefined, "and dropped when none waits");
    lines.forgetIdle(P);
    assert.equal(lines.lines.has(P), false);
  });
});
