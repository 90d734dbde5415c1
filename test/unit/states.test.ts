import assert from "node:assert/strict";
import { describe, it } from "node:test";

import {
  JobState,
  Transition,
  allJobStates,
  canTransition,
  isTerminal,
  nextState,
  transitionTable,
} from "../../src/core/states.js";

const allTransitions = Object.values(Transition);

/** The OJS lifecycle, written out independently of src/core/states.ts. */
const expected: Record<JobState, Partial<Record<Transition, JobState>>> = {
  scheduled: { promote: "available", cancel: "cancelled", expire: "discarded" },
  pending: { activate: "available", cancel: "cancelled", expire: "discarded" },
  available: { claim: "active", cancel: "cancelled", expire: "discarded" },
  active: {
    complete: "completed",
    retry: "retryable",
    discard: "discarded",
    requeue: "available",
    cancel: "cancelled",
  },
  retryable: { promote: "available", cancel: "cancelled", expire: "discarded" },
  completed: {},
  cancelled: {},
  discarded: { revive: "available" },
};

describe("job states", () => {
  it("has the eight OJS states", () => {
    assert.deepEqual([...allJobStates].sort(), [
      "active",
      "available",
      "cancelled",
      "completed",
      "discarded",
      "pending",
      "retryable",
      "scheduled",
    ]);
  });

  it("has the ten transitions", () => {
    assert.deepEqual([...allTransitions].sort(), [
      "activate",
      "cancel",
      "claim",
      "complete",
      "discard",
      "expire",
      "promote",
      "requeue",
      "retry",
      "revive",
    ]);
  });

  for (const from of allJobStates) {
    for (const t of allTransitions) {
      const to = expected[from][t];
      it(`${from} --${t}--> ${to ?? "(illegal)"}`, () => {
        assert.equal(nextState(from, t), to);
        assert.equal(canTransition(from, t), to !== undefined);
      });
    }
  }

  const terminal: Record<JobState, boolean> = {
    scheduled: false,
    pending: false,
    available: false,
    active: false,
    retryable: false,
    completed: true,
    cancelled: true,
    discarded: true,
  };
  for (const s of allJobStates) {
    it(`isTerminal(${s}) = ${terminal[s]}`, () => {
      assert.equal(isTerminal(s), terminal[s]);
    });
  }

  it("terminal states only leave by reviving a discarded job", () => {
    for (const s of allJobStates.filter(isTerminal)) {
      const out = allTransitions.filter((t) => canTransition(s, t));
      assert.deepEqual(out, s === JobState.Discarded ? [Transition.Revive] : [], s);
    }
  });

  it("every non-terminal state can be cancelled", () => {
    for (const s of allJobStates.filter((x) => !isTerminal(x)))
      assert.equal(nextState(s, Transition.Cancel), JobState.Cancelled, s);
  });

  it("only an active job can complete, fail, or be requeued", () => {
    for (const t of [Transition.Complete, Transition.Retry, Transition.Discard, Transition.Requeue]) {
      assert.deepEqual(
        allJobStates.filter((s) => canTransition(s, t)),
        [JobState.Active],
        t,
      );
    }
  });

  it("every state is reachable from scheduled or pending or available", () => {
    const reached = new Set<JobState>([JobState.Scheduled, JobState.Pending, JobState.Available]);
    let grew = true;
    while (grew) {
      grew = false;
      for (const row of transitionTable())
        if (reached.has(row.from) && !reached.has(row.to)) {
          reached.add(row.to);
          grew = true;
        }
    }
    assert.deepEqual([...reached].sort(), [...allJobStates].sort());
  });
});

describe("transitionTable", () => {
  const rows = transitionTable();

  it("lists each allowed edge exactly once", () => {
    const expectedRows = allJobStates.flatMap((from) =>
      Object.entries(expected[from]).map(([transition, to]) => `${from} ${transition} ${to}`),
    );
    const actual = rows.map((r) => `${r.from} ${r.transition} ${r.to}`);
    assert.equal(actual.length, 18);
    assert.equal(new Set(actual).size, actual.length);
    assert.deepEqual([...actual].sort(), [...expectedRows].sort());
  });

  it("agrees with nextState on every row", () => {
    for (const r of rows) assert.equal(nextState(r.from, r.transition), r.to);
  });
});
