/**
 * The pure parts of retention: the removal decision, count limits at segment granularity, the check
 * references, retention resolution and the duration and size formats of the flags.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { bytesArg, durationArg } from "../../src/cli/storage-flags.js";
import {
  defaultRetention,
  effectiveRetention,
  formatDuration,
  keepMsFor,
  parseDurationText,
} from "../../src/core/storage-options.js";
import { Store } from "../../src/core/ids.js";
import type { Fate } from "../../src/store/retention/decide.js";
import { CountFlag, decideRemoval } from "../../src/store/retention/decide.js";
import type { SlotFate } from "../../src/store/retention/fates.js";
import { journalRef, parseRef, segmentRef } from "../../src/store/retention/records.js";
import { CountWindows } from "../../src/store/retention/walk.js";
import { boundedHistory, shortenError } from "../../src/store/jobs/payload-limits.js";

const now = 1_000_000;
const finished = (at: number, keepMs: number): Fate => ({ kind: "finished", at, keepMs });

describe("decideRemoval", () => {
  it("removes a segment whose jobs are all past their retention", () => {
    assert.deepEqual(decideRemoval([finished(now - 500, 200), finished(now - 300, 300)], now), {
      remove: true,
    });
  });

  it("counts jobs that are gone as removable", () => {
    assert.deepEqual(decideRemoval([{ kind: "gone" }, finished(now - 10, 5)], now), { remove: true });
    assert.deepEqual(decideRemoval([{ kind: "gone" }], now), { remove: true });
  });

  it("waits for the last finished job's retention (a job is kept at least its retention)", () => {
    assert.deepEqual(decideRemoval([finished(now - 500, 200), finished(now - 100, 300)], now), {
      remove: false,
      checkAt: now + 200,
    });
  });

  it("never removes a segment with an unfinished job; looks again after its recheck time", () => {
    assert.deepEqual(decideRemoval([finished(now - 500, 200), { kind: "active", recheckMs: 1000 }], now), {
      remove: false,
      checkAt: now + 1000,
    });
  });

  it("looks again at the later of a finished job's expiry and an unfinished job's recheck", () => {
    const d = decideRemoval([finished(now, 5000), { kind: "active", recheckMs: 1000 }], now);
    assert.deepEqual(d, { remove: false, checkAt: now + 5000 });
  });

  it("an empty segment (no slots) goes", () => {
    assert.deepEqual(decideRemoval([], now), { remove: true });
  });
});

const fate = (kind: SlotFate["kind"], at: number, keepMs: number): SlotFate => ({
  fate: { kind: "finished", at, keepMs },
  ...(kind === undefined ? {} : { kind }),
});

describe("count limits", () => {
  it("lets the oldest segments go once the queue holds more than its limit", () => {
    const w = new CountWindows();
    const out: string[] = [];
    for (let seq = 1; seq <= 6; seq++) {
      const checks = w.feed(
        "q",
        { completedCount: 2 },
        Store.Queue,
        seq,
        [fate("completed", now, 60_000)],
        now,
      );
      out.push(...checks.map((c) => c.ref));
    }
    assert.deepEqual(
      out,
      [1, 2, 3, 4].map((s) => segmentRef(Store.Queue, s, CountFlag.Completed)),
    );
  });

  it("keeps at least the limit at segment granularity, and never counts dead letters", () => {
    const w = new CountWindows();
    const seg = (n: number) => Array.from({ length: n }, () => fate("completed", now, 60_000));
    assert.deepEqual(w.feed("q", { completedCount: 3 }, Store.Queue, 1, seg(2), now), []);
    // 2 + 2 = 4 > 3, but without the first segment only 2 would be left: both stay.
    assert.deepEqual(w.feed("q", { completedCount: 3 }, Store.Queue, 2, seg(2), now), []);
    assert.equal(w.feed("q", { completedCount: 3 }, Store.Queue, 3, seg(2), now).length, 1);
    const dead = [fate("dead_letter", now, 60_000), fate("dead_letter", now, 60_000)];
    for (let seq = 10; seq < 20; seq++)
      assert.deepEqual(w.feed("q", { discardedCount: 0 }, Store.Queue, seq, dead, now), []);
  });

  it("forgets segments that go by age anyway", () => {
    const w = new CountWindows();
    assert.deepEqual(
      w.feed("q", { completedCount: 1 }, Store.Queue, 1, [fate("completed", now - 100, 50)], now),
      [],
    );
    // The first segment expired by age: it no longer counts, so one segment is within the limit.
    assert.deepEqual(
      w.feed("q", { completedCount: 1 }, Store.Queue, 2, [fate("completed", now, 1000)], now),
      [],
    );
  });
});

describe("check references", () => {
  it("round-trip segments (with flags), journals and fleet jobs", () => {
    assert.deepEqual(parseRef(segmentRef(Store.Delay, 42)), {
      kind: "segment",
      store: Store.Delay,
      seq: 42,
      flags: 0,
    });
    assert.deepEqual(parseRef(segmentRef(Store.Queue, 7, 3)), {
      kind: "segment",
      store: Store.Queue,
      seq: 7,
      flags: 3,
    });
    assert.deepEqual(parseRef(journalRef(Store.Queue, 9)), { kind: "journal", store: Store.Queue, seq: 9 });
    assert.deepEqual(parseRef("f.0194c0de-0000-7000-8000-000000000000"), {
      kind: "fleet",
      id: "0194c0de-0000-7000-8000-000000000000",
    });
    for (const bad of ["", "s", "s.1", "s.x.1", "j.1.0", "x.1.2", "s.1.2.3.4"])
      assert.equal(parseRef(bad), undefined, bad);
  });
});

describe("retention settings", () => {
  it("a job's own retention wins over its queue's, which wins over the defaults", () => {
    const d = defaultRetention();
    assert.deepEqual(effectiveRetention(undefined, undefined, d), {
      completedMs: d.completedMs,
      discardedMs: d.discardedMs,
      deadLetterMs: d.deadLetterMs,
    });
    const r = effectiveRetention({ completedMs: 1 }, { completedMs: 2, discardedMs: 3 }, d);
    assert.deepEqual(r, { completedMs: 1, discardedMs: 3, deadLetterMs: d.deadLetterMs });
    assert.equal(keepMsFor("dead_letter", r), d.deadLetterMs);
    assert.equal(keepMsFor("discarded", r), 3);
  });

  it("defaults: completed 24 h, discarded and dead letters 7 days, fleet jobs 7 days", () => {
    assert.deepEqual(defaultRetention(), {
      completedMs: 86_400_000,
      discardedMs: 7 * 86_400_000,
      deadLetterMs: 7 * 86_400_000,
      fleetMs: 7 * 86_400_000,
    });
  });

  it("durations and sizes of the flags", () => {
    assert.equal(parseDurationText("500ms"), 500);
    assert.equal(parseDurationText("24h"), 86_400_000);
    assert.equal(parseDurationText("7d"), 7 * 86_400_000);
    assert.equal(parseDurationText("P7D"), 7 * 86_400_000);
    assert.equal(parseDurationText("PT1H"), 3_600_000);
    assert.equal(parseDurationText("soon"), undefined);
    assert.equal(durationArg("2w"), 14 * 86_400_000);
    assert.throws(() => durationArg("1y"));
    assert.equal(bytesArg("64MiB"), 64 * 1024 * 1024);
    assert.equal(bytesArg("1GB"), 1024 ** 3);
    assert.throws(() => bytesArg("12"));
    assert.equal(formatDuration(86_400_000), "1d");
    assert.equal(formatDuration(7 * 86_400_000), "7d");
    assert.equal(formatDuration(1500), "1500ms");
  });
});

describe("error size", () => {
  it("shortens a huge error, details first, and bounds the history a retried job carries", () => {
    const rec = {
      code: "x",
      message: "m".repeat(50_000),
      details: { big: "d".repeat(50_000) },
      attempt: 1,
      occurredAt: 1,
    };
    const short = shortenError(rec, 4096);
    assert.ok(JSON.stringify(short).length <= 4096, `${JSON.stringify(short).length}`);
    assert.deepEqual(short.details, { shortened: true });
    assert.match(short.message, /shortened\)$/);
    const small = { code: "x", message: "ok", attempt: 1, occurredAt: 1 };
    assert.equal(shortenError(small, 4096), small);
    const history = Array.from({ length: 10 }, (_, i) => ({
      ...small,
      attempt: i + 1,
      message: "e".repeat(1000),
    }));
    const kept = boundedHistory(history, 3500);
    assert.ok(kept.length < 10 && kept.length >= 1);
    assert.equal(kept.at(-1)!.attempt, 10, "the latest errors are kept");
  });
});
