import assert from "node:assert/strict";
import { describe, it } from "node:test";

import type { JobErrorRecord } from "../../src/core/envelope.js";
import type { Slot } from "../../src/store/journal/fold.js";
import {
  applyOp,
  emptySlots,
  foldJournal,
  forwardOf,
  hasLiveLease,
  isClaimable,
  isResolved,
} from "../../src/store/journal/fold.js";
import type { JournalEntry, JournalOp } from "../../src/store/journal/journal-ops.js";

const err: JobErrorRecord = { code: "boom", message: "failed", attempt: 1, occurredAt: 500 };

function fold(ops: JournalOp[], jobCount = 1): Slot[] {
  return foldJournal(jobCount, [{ seq: 1, ops }]);
}

function slot0(ops: JournalOp[]): Slot {
  return fold(ops)[0]!;
}

const claim = (a: number, extra: { dl?: number; w?: string; at?: number; ack?: string; i?: number } = {}) =>
  ({
    op: "claim",
    i: extra.i ?? 0,
    a,
    w: extra.w ?? `w${a}`,
    at: extra.at ?? 100 * a,
    ...pick(extra),
  }) as const;

function pick(x: { dl?: number; ack?: string }): { dl?: number; ack?: string } {
  const out: { dl?: number; ack?: string } = {};
  if (x.dl !== undefined) out.dl = x.dl;
  if (x.ack !== undefined) out.ack = x.ack;
  return out;
}

describe("emptySlots / foldJournal basics", () => {
  it("starts every slot unclaimed", () => {
    assert.deepEqual(emptySlots(3), [
      { lastAttempt: 0, requeues: 0 },
      { lastAttempt: 0, requeues: 0 },
      { lastAttempt: 0, requeues: 0 },
    ]);
    assert.deepEqual(foldJournal(2, []), emptySlots(2));
  });

  it("never changes a slot object: an op replaces the slot, so earlier folds sharing it stay as they were", () => {
    const s = emptySlots(2);
    assert.throws(() => {
      s[0]!.lastAttempt = 5;
    }, TypeError);
    const before = s.slice();
    applyOp(s, { op: "claim", i: 0, a: 1, w: "w1", at: 1 });
    assert.equal(s[0]!.lastAttempt, 1);
    assert.equal(before[0]!.lastAttempt, 0);
    assert.equal(s[1], before[1]);
    const claimed = s[0]!;
    applyOp(s, { op: "done", i: 0, a: 1, at: 2 });
    assert.equal(claimed.outcome, undefined);
    assert.equal(s[0]!.outcome?.kind, "done");
  });

  it("applies ops across entries in order, and can continue from a previous fold", () => {
    const entries: JournalEntry[] = [
      { seq: 1, ops: [claim(1, { dl: 5000 })] },
      { seq: 2, ops: [{ op: "beat", i: 0, a: 1, dl: 9000 }] },
    ];
    const slots = foldJournal(1, entries);
    assert.deepEqual(slots[0]!.claim, { a: 1, w: "w1", at: 100, dl: 9000 });
    const more = foldJournal(1, [{ seq: 3, ops: [{ op: "done", i: 0, a: 1, at: 700 }] }], slots);
    assert.equal(more, slots);
    assert.deepEqual(more[0]!.outcome, { kind: "done", a: 1, at: 700 });
  });

  it("keeps slots independent", () => {
    const slots = fold(
      [claim(1, { i: 1 }), { op: "cancel", i: 2, at: 50 }, { op: "done", i: 1, a: 1, at: 60 }],
      3,
    );
    assert.deepEqual(slots[0], { lastAttempt: 0, requeues: 0 });
    assert.equal(slots[1]!.outcome?.kind, "done");
    assert.deepEqual(slots[2]!.outcome, { kind: "cancel", at: 50 });
  });

  for (const i of [-1, 1, 2, 1000, 0.5, Number.NaN]) {
    it(`ignores ops for out-of-range slot index ${i}`, () => {
      const slots = fold(
        [
          { op: "claim", i, a: 1, w: "w", at: 1 },
          { op: "cancel", i, at: 2 },
          { op: "loc", i, to: "2.5", ti: 0 },
        ],
        1,
      );
      assert.deepEqual(slots, emptySlots(1));
    });
  }
});

describe("claims", () => {
  it("records the claim with its optional lease deadline and ack subject", () => {
    const s = slot0([claim(1, { dl: 5000, ack: "$JS.ACK.x" })]);
    assert.equal(s.lastAttempt, 1);
    assert.deepEqual(s.claim, { a: 1, w: "w1", at: 100, dl: 5000, ack: "$JS.ACK.x" });
  });

  it("omits dl and ack when absent", () => {
    assert.deepEqual(slot0([claim(1)]).claim, { a: 1, w: "w1", at: 100 });
  });

  const sequences: Array<[string, number[], number]> = [
    ["increasing claims replace the holder", [1, 2, 3], 3],
    ["an equal attempt is ignored", [1, 1], 1],
    ["a lower attempt is ignored", [3, 2], 3],
    ["skipping attempts is allowed", [1, 5], 5],
    ["attempt 0 is not a claim", [0], 0],
  ];
  for (const [name, attempts, current] of sequences) {
    it(name, () => {
      const s = slot0(attempts.map((a) => claim(a)));
      assert.equal(s.lastAttempt, current);
      if (current === 0) assert.equal(s.claim, undefined);
      else assert.equal(s.claim?.a, current);
    });
  }

  it("a claim after an outcome is ignored", () => {
    const s = slot0([claim(1), { op: "done", i: 0, a: 1, at: 5 }, claim(2)]);
    assert.equal(s.lastAttempt, 1);
    assert.equal(s.claim?.a, 1);
  });

  it("a claim after cancel is ignored", () => {
    const s = slot0([{ op: "cancel", i: 0, at: 5 }, claim(1)]);
    assert.equal(s.lastAttempt, 0);
    assert.equal(s.claim, undefined);
  });
});

describe("outcomes", () => {
  it("done for the current claim wins, with its result", () => {
    const s = slot0([claim(1), { op: "done", i: 0, a: 1, at: 700, res: { ok: true } }]);
    assert.deepEqual(s.outcome, { kind: "done", a: 1, at: 700, res: { ok: true } });
    assert.ok(isResolved(s));
  });

  it("done without res has no res key", () => {
    const s = slot0([claim(1), { op: "done", i: 0, a: 1, at: 700 }]);
    assert.equal(s.outcome !== undefined && "res" in s.outcome, false);
  });

  it("fail keeps every optional field", () => {
    const s = slot0([
      claim(1),
      { op: "fail", i: 0, a: 1, at: 800, err, out: "retry", to: "2.9", ti: 0, retryAt: 1800, delay: 1000 },
    ]);
    assert.deepEqual(s.outcome, {
      kind: "fail",
      a: 1,
      at: 800,
      err,
      out: "retry",
      to: "2.9",
      ti: 0,
      retryAt: 1800,
      delay: 1000,
    });
  });

  it("fail discard with dlq", () => {
    const s = slot0([claim(2), { op: "fail", i: 0, a: 2, at: 800, err, out: "discard", dlq: true }]);
    assert.deepEqual(s.outcome, { kind: "fail", a: 2, at: 800, err, out: "discard", dlq: true });
  });

  // [name, ops, expected outcome kind (undefined = none)]
  const cases: Array<[string, JournalOp[], string | undefined]> = [
    ["done without any claim is ignored", [{ op: "done", i: 0, a: 1, at: 1 }], undefined],
    [
      "fail without any claim is ignored",
      [{ op: "fail", i: 0, a: 1, at: 1, err, out: "discard" }],
      undefined,
    ],
    [
      "done for a stale attempt is ignored",
      [claim(1), claim(2), { op: "done", i: 0, a: 1, at: 1 }],
      undefined,
    ],
    [
      "fail for a stale attempt is ignored",
      [claim(1), claim(2), { op: "fail", i: 0, a: 1, at: 1, err, out: "retry" }],
      undefined,
    ],
    ["done for a future attempt is ignored", [claim(1), { op: "done", i: 0, a: 2, at: 1 }], undefined],
    ["done for the newest claim counts", [claim(1), claim(2), { op: "done", i: 0, a: 2, at: 1 }], "done"],
    [
      "the first outcome wins: done then fail",
      [claim(1), { op: "done", i: 0, a: 1, at: 1 }, { op: "fail", i: 0, a: 1, at: 2, err, out: "discard" }],
      "done",
    ],
    [
      "the first outcome wins: fail then done",
      [claim(1), { op: "fail", i: 0, a: 1, at: 1, err, out: "discard" }, { op: "done", i: 0, a: 1, at: 2 }],
      "fail",
    ],
    [
      "the first outcome wins: done then cancel",
      [claim(1), { op: "done", i: 0, a: 1, at: 1 }, { op: "cancel", i: 0, at: 2 }],
      "done",
    ],
    [
      "the first outcome wins: cancel then done",
      [claim(1), { op: "cancel", i: 0, at: 1 }, { op: "done", i: 0, a: 1, at: 2 }],
      "cancel",
    ],
    [
      "the first outcome wins: cancel then expire",
      [
        { op: "cancel", i: 0, at: 1 },
        { op: "expire", i: 0, at: 2 },
      ],
      "cancel",
    ],
    [
      "the first outcome wins: expire then cancel",
      [
        { op: "expire", i: 0, at: 1 },
        { op: "cancel", i: 0, at: 2 },
      ],
      "expire",
    ],
    [
      "the first outcome wins: move then cancel",
      [
        { op: "move", i: 0, at: 1, to: "1.9", ti: 3 },
        { op: "cancel", i: 0, at: 2 },
      ],
      "move",
    ],
    [
      "the first outcome wins: cancel then move",
      [
        { op: "cancel", i: 0, at: 1 },
        { op: "move", i: 0, at: 2, to: "1.9", ti: 3 },
      ],
      "cancel",
    ],
    ["cancel needs no claim", [{ op: "cancel", i: 0, at: 1 }], "cancel"],
    ["expire needs no claim", [{ op: "expire", i: 0, at: 1 }], "expire"],
    [
      "cancel of an active job wins over its later done",
      [claim(1), { op: "cancel", i: 0, at: 1 }, { op: "done", i: 0, a: 1, at: 2 }],
      "cancel",
    ],
    [
      "done after a requeue of that attempt is ignored",
      [claim(1), { op: "requeue", i: 0, a: 1, at: 1 }, { op: "done", i: 0, a: 1, at: 2 }],
      undefined,
    ],
  ];
  for (const [name, ops, kind] of cases) {
    it(name, () => {
      assert.equal(slot0(ops).outcome?.kind, kind);
    });
  }

  it("keeps the first outcome's timestamp", () => {
    const s = slot0([
      { op: "cancel", i: 0, at: 11 },
      { op: "cancel", i: 0, at: 22 },
    ]);
    assert.deepEqual(s.outcome, { kind: "cancel", at: 11 });
  });

  it("keeps the claim after the outcome (for started_at)", () => {
    const s = slot0([claim(1, { at: 123 }), { op: "done", i: 0, a: 1, at: 456 }]);
    assert.deepEqual(s.claim, { a: 1, w: "w1", at: 123 });
  });
});

describe("requeue and beat", () => {
  it("requeue releases the current claim and counts", () => {
    const s = slot0([claim(1, { dl: 5000 }), { op: "requeue", i: 0, a: 1, at: 200 }]);
    assert.equal(s.claim, undefined);
    assert.equal(s.requeues, 1);
    assert.equal(s.lastAttempt, 1);
  });

  it("requeue of a stale attempt does nothing", () => {
    const s = slot0([claim(1), claim(2), { op: "requeue", i: 0, a: 1, at: 200 }]);
    assert.equal(s.claim?.a, 2);
    assert.equal(s.requeues, 0);
  });

  it("requeue without a claim does nothing", () => {
    const s = slot0([{ op: "requeue", i: 0, a: 0, at: 200 }]);
    assert.equal(s.requeues, 0);
  });

  it("requeue after an outcome does nothing", () => {
    const s = slot0([claim(1), { op: "done", i: 0, a: 1, at: 1 }, { op: "requeue", i: 0, a: 1, at: 2 }]);
    assert.equal(s.claim?.a, 1);
    assert.equal(s.requeues, 0);
  });

  it("after a requeue the next claim needs a higher attempt", () => {
    const s = slot0([claim(1), { op: "requeue", i: 0, a: 1, at: 2 }, claim(1), claim(2)]);
    assert.equal(s.claim?.a, 2);
    assert.equal(s.requeues, 1);
  });

  it("counts repeated requeues", () => {
    const s = slot0([
      claim(1),
      { op: "requeue", i: 0, a: 1, at: 2 },
      claim(2),
      { op: "requeue", i: 0, a: 2, at: 3 },
      claim(3),
    ]);
    assert.equal(s.requeues, 2);
    assert.equal(s.claim?.a, 3);
  });

  // [name, ops, expected dl of the claim]
  const beats: Array<[string, JournalOp[], number | undefined]> = [
    ["beat extends the current claim", [claim(1, { dl: 5000 }), { op: "beat", i: 0, a: 1, dl: 8000 }], 8000],
    ["beat never shortens the lease", [claim(1, { dl: 5000 }), { op: "beat", i: 0, a: 1, dl: 3000 }], 5000],
    [
      "beat for a stale attempt is ignored",
      [claim(1, { dl: 5000 }), claim(2, { dl: 6000 }), { op: "beat", i: 0, a: 1, dl: 9000 }],
      6000,
    ],
    [
      "beat after an outcome is ignored",
      [claim(1, { dl: 5000 }), { op: "done", i: 0, a: 1, at: 1 }, { op: "beat", i: 0, a: 1, dl: 9000 }],
      5000,
    ],
    ["beat without a claim is ignored", [{ op: "beat", i: 0, a: 1, dl: 9000 }], undefined],
  ];
  for (const [name, ops, dl] of beats) {
    it(name, () => {
      assert.equal(slot0(ops).claim?.dl, dl);
    });
  }
});

describe("loc and forwardOf", () => {
  it("records the latest loc pointer, even after an outcome", () => {
    const s = slot0([
      { op: "loc", i: 0, to: "2.10", ti: 0 },
      { op: "move", i: 0, at: 1, to: "1.11", ti: 4 },
      { op: "loc", i: 0, to: "1.12", ti: 7 },
    ]);
    assert.deepEqual(s.loc, { to: "1.12", ti: 7 });
  });

  const cases: Array<[string, JournalOp[], { to: string; ti: number } | undefined]> = [
    ["no outcome", [], undefined],
    ["move", [{ op: "move", i: 0, at: 1, to: "1.42", ti: 3 }], { to: "1.42", ti: 3 }],
    [
      "fail retry with a target",
      [claim(1), { op: "fail", i: 0, a: 1, at: 1, err, out: "retry", to: "2.7", ti: 0 }],
      { to: "2.7", ti: 0 },
    ],
    [
      "fail retry without a target",
      [claim(1), { op: "fail", i: 0, a: 1, at: 1, err, out: "retry" }],
      undefined,
    ],
    [
      "fail retry without ti",
      [claim(1), { op: "fail", i: 0, a: 1, at: 1, err, out: "retry", to: "2.7" }],
      undefined,
    ],
    [
      "fail discard with a target",
      [claim(1), { op: "fail", i: 0, a: 1, at: 1, err, out: "discard", to: "2.7", ti: 0 }],
      undefined,
    ],
    ["done", [claim(1), { op: "done", i: 0, a: 1, at: 1 }], undefined],
    ["cancel", [{ op: "cancel", i: 0, at: 1 }], undefined],
    ["loc only", [{ op: "loc", i: 0, to: "1.5", ti: 1 }], undefined],
  ];
  for (const [name, ops, fwd] of cases) {
    it(`forwardOf: ${name}`, () => {
      assert.deepEqual(forwardOf(slot0(ops)), fwd);
    });
  }
});

describe("isClaimable / hasLiveLease", () => {
  const now = 10_000;
  // [name, ops, claimable, live lease, resolved]
  const cases: Array<[string, JournalOp[], boolean, boolean, boolean]> = [
    ["never claimed", [], true, false, false],
    ["claim without dl (NATS-direct; the holder lost the delivery)", [claim(1)], true, false, false],
    ["claim with dl in the past", [claim(1, { dl: now - 1 })], true, false, false],
    ["claim with dl exactly now", [claim(1, { dl: now })], false, true, false],
    ["claim with dl in the future", [claim(1, { dl: now + 1 })], false, true, false],
    [
      "expired lease extended by a beat",
      [claim(1, { dl: now - 1 }), { op: "beat", i: 0, a: 1, dl: now + 500 }],
      false,
      true,
      false,
    ],
    [
      "requeued claim",
      [claim(1, { dl: now + 5000 }), { op: "requeue", i: 0, a: 1, at: 1 }],
      true,
      false,
      false,
    ],
    ["done", [claim(1, { dl: now + 5000 }), { op: "done", i: 0, a: 1, at: 1 }], false, false, true],
    ["cancelled", [{ op: "cancel", i: 0, at: 1 }], false, false, true],
    ["expired", [{ op: "expire", i: 0, at: 1 }], false, false, true],
    ["moved", [{ op: "move", i: 0, at: 1, to: "1.2", ti: 0 }], false, false, true],
  ];
  for (const [name, ops, claimable, live, resolved] of cases) {
    it(name, () => {
      const s = slot0(ops);
      assert.equal(isClaimable(s, now), claimable, "isClaimable");
      assert.equal(hasLiveLease(s, now), live, "hasLiveLease");
      assert.equal(isResolved(s), resolved, "isResolved");
    });
  }

  it("a lease turns claimable exactly after its deadline", () => {
    const s = slot0([claim(1, { dl: 5000 })]);
    assert.deepEqual(
      [4999, 5000, 5001].map((t) => [isClaimable(s, t), hasLiveLease(s, t)]),
      [
        [false, true],
        [false, true],
        [true, false],
      ],
    );
  });
});

describe("applyOp", () => {
  it("mutates the slot array in place", () => {
    const slots = emptySlots(2);
    applyOp(slots, { op: "claim", i: 1, a: 1, w: "w", at: 5, dl: 50 });
    assert.deepEqual(slots[1], { lastAttempt: 1, requeues: 0, claim: { a: 1, w: "w", at: 5, dl: 50 } });
    assert.deepEqual(slots[0], { lastAttempt: 0, requeues: 0 });
  });
});
