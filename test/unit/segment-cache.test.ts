import assert from "node:assert/strict";
import { describe, it } from "node:test";

import type { JobSpec } from "../../src/core/envelope.js";
import { Store } from "../../src/core/ids.js";
import {
  clearSegments,
  dropSegment,
  keepSegment,
  newSegmentCache,
} from "../../src/store/jobs/segment-cache.js";
import type { SegmentAt } from "../../src/store/segments/segment.js";
import { refKey } from "../../src/store/segments/segment.js";

const segment = (seq: number, jobs: number): SegmentAt => ({
  store: Store.Queue,
  seq,
  seg: {
    v: 1,
    ts: 0,
    r: 0,
    q: "q",
    p: 0,
    jobs: Array.from({ length: jobs }, (): JobSpec => ({ type: "t", args: [] })),
  },
});
const keep = (c: ReturnType<typeof newSegmentCache>, at: SegmentAt) =>
  keepSegment(c, refKey(at.store, at.seq), at);
const seqs = (c: ReturnType<typeof newSegmentCache>) => [...c.segments.values()].map((a) => a.seq);

describe("segment cache", () => {
  it("drops the oldest segments beyond its number of segments", () => {
    const c = newSegmentCache(2, 1000);
    for (const seq of [1, 2, 3]) keep(c, segment(seq, 1));
    assert.deepEqual(seqs(c), [2, 3]);
    assert.equal(c.jobs, 2);
  });

  it("drops the oldest segments beyond its number of jobs", () => {
    const c = newSegmentCache(100, 10);
    keep(c, segment(1, 4));
    keep(c, segment(2, 4));
    keep(c, segment(3, 4));
    assert.deepEqual(seqs(c), [2, 3]);
    assert.equal(c.jobs, 8);
  });

  it("counts a segment kept again once, and forgets dropped and cleared ones", () => {
    const c = newSegmentCache(10, 100);
    keep(c, segment(1, 3));
    keep(c, segment(1, 3));
    assert.equal(c.jobs, 3);
    dropSegment(c, refKey(Store.Queue, 1));
    dropSegment(c, refKey(Store.Queue, 9));
    assert.equal(c.jobs, 0);
    keep(c, segment(2, 5));
    clearSegments(c);
    assert.equal(c.segments.size, 0);
    assert.equal(c.jobs, 0);
  });
});
