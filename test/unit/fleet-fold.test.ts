import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { allTerminal, countHosts, finalStatus, foldTimeline } from "../../src/fleet/fold.js";
import type { FleetCounts, TimelineEvent } from "../../src/fleet/types.js";

const ev = (
  e: TimelineEvent["e"],
  h: string | undefined,
  at: number,
  d?: Record<string, unknown>,
): TimelineEvent => ({
  e,
  at,
  ep: 1,
  ...(h === undefined ? {} : { h }),
  ...(d === undefined ? {} : { d }),
});

describe("fleet timeline fold", () => {
  it("moves a host forward only and keeps the first result", () => {
    const f = foldTimeline(
      ["a"],
      [
        ev("started", "a", 2),
        ev("acknowledged", "a", 1), // late, out of order: does not move back
        ev("completed", "a", 3, { result: 1, duration_ms: 7 }),
        ev("failed", "a", 4, { error: { code: "x", message: "late" } }),
      ],
    ).get("a")!;
    assert.equal(f.state, "completed");
    assert.equal(f.result, 1);
    assert.equal(f.durationMs, 7);
    assert.equal(f.startedAt, 2);
  });

  it("a real result replaces the controller's verdict; a verdict never replaces a result", () => {
    const folds = foldTimeline(
      ["a", "b"],
      [
        ev("unreachable", "a", 1),
        ev("completed", "a", 2, { result: "late but real" }),
        ev("failed", "b", 1, { error: { code: "boom", message: "no" } }),
        ev("timeout", "b", 2),
      ],
    );
    assert.equal(folds.get("a")!.state, "completed");
    assert.equal(folds.get("b")!.state, "failed");
    assert.equal(folds.get("b")!.error!.code, "boom");
  });

  it("a handler stopped at the deadline counts as timed out", () => {
    const f = foldTimeline(
      ["a"],
      [ev("failed", "a", 1, { error: { code: "timeout", message: "deadline" } })],
    );
    assert.equal(f.get("a")!.state, "timeout");
  });

  it("ignores events about hosts outside the resolved set and host-less events", () => {
    const folds = foldTimeline(["a"], [ev("completed", "z", 1), ev("finished", undefined, 2)]);
    assert.equal(folds.get("a")!.state, "pending");
    assert.equal(allTerminal(folds), false);
  });

  const counts = (o: Partial<FleetCounts>): FleetCounts => {
    const c: FleetCounts = {
      total: 0,
      pending: 0,
      running: 0,
      completed: 0,
      failed: 0,
      unreachable: 0,
      skipped: 0,
      timeout: 0,
      cancelled: 0,
      ...o,
    };
    c.total =
      c.pending + c.running + c.completed + c.failed + c.unreachable + c.skipped + c.timeout + c.cancelled;
    return c;
  };
  for (const [c, expected] of [
    [counts({ completed: 3 }), "completed"],
    [counts({ completed: 2, failed: 1 }), "partial_failure"],
    [counts({ completed: 1, unreachable: 1 }), "partial_failure"],
    [counts({ failed: 2 }), "failed"],
    [counts({ failed: 1, timeout: 1 }), "failed"],
    [counts({ timeout: 1, unreachable: 2 }), "timeout"],
    [counts({ completed: 3, skipped: 1 }), "partial_failure"],
    [counts({ skipped: 1, timeout: 1 }), "failed"],
  ] as const) {
    it(`final status of ${JSON.stringify(c)} is ${expected}`, () => assert.equal(finalStatus(c), expected));
  }

  it("counts hosts by state", () => {
    const folds = foldTimeline(["a", "b", "c"], [ev("started", "a", 1), ev("completed", "b", 1)]);
    assert.deepEqual(countHosts(folds.values()), counts({ running: 1, completed: 1, pending: 1 }));
  });
});
