import assert from "node:assert/strict";
import { describe, it } from "node:test";

import type { PullLoop } from "../../src/nats/pull.js";
import { cancelNoticeId } from "../../src/worker/emit.js";
import { freeFor, storableOutcome, wakesIdle } from "../../src/worker/identity-state.js";
import { sortLanes } from "../../src/worker/lanes.js";
import { bySegment } from "../../src/worker/rebalance.js";
import type { Held, Waiting } from "../../src/worker/runner-state.js";
import type { Lane } from "../../src/worker/worker-state.js";

const enc = new TextEncoder();

describe("cancelNoticeId", () => {
  it("reads the job id of a cancel notice", () => {
    assert.equal(cancelNoticeId(enc.encode(JSON.stringify({ id: "j1", reason: "x" }))), "j1");
  });

  it("is undefined for what is not one: bad JSON, null, no id, an id not a string", () => {
    for (const bad of ["{", "null", "{}", '{"id":5}', "[]", ""]) {
      assert.equal(cancelNoticeId(enc.encode(bad)), undefined, bad);
    }
  });
});

describe("identity worker freeFor", () => {
  const running = (...queues: string[]) => new Map(queues.map((queue, k) => [`j${k}`, { queue }]));

  it("one queue may use every slot", () => {
    assert.equal(freeFor(["a"], 3, running(), "a"), 3);
    assert.equal(freeFor(["a"], 3, running("a", "a"), "a"), 1);
    assert.equal(freeFor(["a"], 3, running("a", "a", "a"), "a"), 0);
  });

  it("with several queues each other queue keeps one slot", () => {
    assert.equal(freeFor(["a", "b"], 3, running(), "a"), 2);
    assert.equal(freeFor(["a", "b"], 3, running("a", "a"), "a"), 0);
    assert.equal(freeFor(["a", "b"], 3, running("a", "a"), "b"), 1);
    // A queue's cap is at least one slot.
    assert.equal(freeFor(["a", "b", "c"], 1, running(), "c"), 1);
  });
});

describe("storableOutcome", () => {
  it("keeps a failure and a result that is JSON", () => {
    const fail = { ok: false as const, error: { code: "x", message: "m" }, cancelled: false };
    assert.equal(storableOutcome(fail), fail);
    const ok = { ok: true as const, result: { a: 1 } };
    assert.equal(storableOutcome(ok), ok);
  });

  it("turns a result that cannot be stored as JSON into a failure not retried", () => {
    const r = storableOutcome({ ok: true, result: { n: 1n } });
    assert.equal(r.ok, false);
    assert.ok(!r.ok && r.error.code === "result_not_serializable" && r.error.retryable === false);
  });
});

describe("wakesIdle", () => {
  it("wakes on enqueued and requeued events only", () => {
    assert.equal(wakesIdle('{"type":"job.enqueued"}'), true);
    assert.equal(wakesIdle('{"type":"job.requeued"}'), true);
    assert.equal(wakesIdle('{"type":"job.completed"}'), false);
  });
});

describe("sortLanes", () => {
  it("orders lanes from the highest priority down, keeping keys", () => {
    const lane = (queue: string, priority: number): Lane => ({
      queue,
      priority,
      state: "unknown",
      loop: {} as PullLoop,
    });
    const loops = new Map([
      ["a|0", lane("a", 0)],
      ["b|5", lane("b", 5)],
      ["a|9", lane("a", 9)],
    ]);
    sortLanes(loops);
    assert.deepEqual([...loops.keys()], ["a|9", "b|5", "a|0"]);
  });
});

describe("rebalance bySegment", () => {
  it("groups waiting jobs by the delivery that holds them, in the order they came", () => {
    const h1 = { id: 1 } as unknown as Held;
    const h2 = { id: 2 } as unknown as Held;
    const w = (h: Held, i: number): Waiting => ({ h, i, a: 1, since: 0, ahead: i === 2, suspect: false });
    const groups = bySegment([w(h1, 0), w(h2, 1), w(h1, 2)]);
    assert.deepEqual([...groups.keys()], [h1, h2]);
    assert.deepEqual(groups.get(h1), [
      { i: 0, a: 1, ahead: false, suspect: false },
      { i: 2, a: 1, ahead: true, suspect: false },
    ]);
    assert.deepEqual(groups.get(h2), [{ i: 1, a: 1, ahead: false, suspect: false }]);
  });
});
