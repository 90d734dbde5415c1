import assert from "node:assert/strict";
import { describe, it } from "node:test";

import type { JobErrorRecord } from "../../src/core/envelope.js";
import type { Slot } from "../../src/store/journal/fold.js";
import type { ReleaseDecision } from "../../src/store/segments/release.js";
import { decideRelease } from "../../src/store/segments/release.js";

const NOW = 1_000_000;
const err: JobErrorRecord = { code: "x", message: "x", attempt: 1, occurredAt: 0 };

const free = (): Slot => ({ lastAttempt: 0, requeues: 0 });
const done = (): Slot => ({
  lastAttempt: 1,
  requeues: 0,
  claim: { a: 1, w: "w", at: 1 },
  outcome: { kind: "done", a: 1, at: 2 },
});
const cancelled = (): Slot => ({ lastAttempt: 0, requeues: 0, outcome: { kind: "cancel", at: 2 } });
const failed = (): Slot => ({
  lastAttempt: 1,
  requeues: 0,
  claim: { a: 1, w: "w", at: 1 },
  outcome: { kind: "fail", a: 1, at: 2, err, out: "discard" },
});
const moved = (): Slot => ({
  lastAttempt: 0,
  requeues: 0,
  outcome: { kind: "move", at: 2, to: "1.5", ti: 0 },
});
/** An HTTP claim whose lease ends at `dl`. */
const leased = (dl: number): Slot => ({ lastAttempt: 1, requeues: 0, claim: { a: 1, w: "w", at: 1, dl } });
/** A NATS-direct claim (no lease deadline). */
const direct = (): Slot => ({ lastAttempt: 1, requeues: 0, claim: { a: 1, w: "w", at: 1 } });

describe("decideRelease", () => {
  // [name, slots, own running, decision]
  const cases: Array<[string, Slot[], number[], ReleaseDecision]> = [
    ["no slots", [], [], { kind: "ack" }],
    ["all done", [done(), done()], [], { kind: "ack" }],
    ["all resolved, mixed outcomes", [done(), cancelled(), failed(), moved()], [], { kind: "ack" }],
    ["all resolved even if the caller still lists a running slot", [done()], [0], { kind: "ack" }],
    ["own running slot", [direct(), free()], [0], { kind: "hold" }],
    ["own running slot with another's live lease", [direct(), leased(NOW + 5000)], [0], { kind: "hold" }],
    ["one free slot", [free()], [], { kind: "nak", delayMs: 0 }],
    ["free slot among resolved ones", [done(), free(), cancelled()], [], { kind: "nak", delayMs: 0 }],
    ["a NATS-direct claim whose holder lost the delivery", [direct()], [], { kind: "nak", delayMs: 0 }],
    ["a lapsed lease", [leased(NOW - 1)], [], { kind: "nak", delayMs: 0 }],
    ["a live lease", [leased(NOW + 5000)], [], { kind: "nak", delayMs: 5025 }],
    ["a lease ending exactly now", [leased(NOW)], [], { kind: "nak", delayMs: 25 }],
    [
      "the earliest of several live leases",
      [leased(NOW + 9000), leased(NOW + 3000), leased(NOW + 7000)],
      [],
      { kind: "nak", delayMs: 3025 },
    ],
    [
      "live leases among resolved slots",
      [done(), leased(NOW + 100), cancelled()],
      [],
      { kind: "nak", delayMs: 125 },
    ],
    ["live lease then a claimable slot", [leased(NOW + 5000), free()], [], { kind: "nak", delayMs: 0 }],
    ["claimable slot then a live lease", [free(), leased(NOW + 5000)], [], { kind: "nak", delayMs: 0 }],
    [
      "live lease and a lapsed lease",
      [leased(NOW + 5000), leased(NOW - 5000)],
      [],
      { kind: "nak", delayMs: 0 },
    ],
    ["live lease and a NATS-direct claim", [leased(NOW + 5000), direct()], [], { kind: "nak", delayMs: 0 }],
  ];
  for (const [name, slots, own, decision] of cases) {
    it(name, () => {
      assert.deepEqual(decideRelease(slots, NOW, new Set(own)), decision);
    });
  }

  it("defaults to no own running slots", () => {
    assert.deepEqual(decideRelease([leased(NOW + 10)], NOW), { kind: "nak", delayMs: 35 });
  });

  it("the delay shrinks as time passes and the lease nears its end", () => {
    const slots = [leased(NOW + 1000)];
    assert.deepEqual(
      [NOW, NOW + 500, NOW + 1000, NOW + 1001].map((t) => decideRelease(slots, t)),
      [
        { kind: "nak", delayMs: 1025 },
        { kind: "nak", delayMs: 525 },
        { kind: "nak", delayMs: 25 },
        { kind: "nak", delayMs: 0 },
      ],
    );
  });

  it("does not modify the slots", () => {
    const slots = [leased(NOW + 1000), free()];
    const copy = structuredClone(slots);
    decideRelease(slots, NOW, new Set([1]));
    decideRelease(slots, NOW);
    assert.deepEqual(slots, copy);
  });
});
