/**
 * The claim rules both doors share (store/segments/claims.ts): what the holder of a segment delivery may take,
 * and what happens to lost, timed-out, expired and reserved jobs. A table of journals in, plans out.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import type { JobSpec } from "../../src/core/envelope.js";
import { Store } from "../../src/core/ids.js";
import { defaultRetryPolicy } from "../../src/core/retry.js";
import type { SlotPlan } from "../../src/store/segments/claims.js";
import { claimOps, handOffEntry, planClaims } from "../../src/store/segments/claims.js";
import { foldJournal } from "../../src/store/journal/fold.js";
import type { JournalOp } from "../../src/store/journal/journal-ops.js";
import type { SegmentAt } from "../../src/store/segments/segment.js";
import { deriveState } from "../../src/store/jobs/view.js";
import { foldStarts } from "../../src/worker/completer.js";

const TS = Date.UTC(2026, 11, 3, 12, 0, 0);
const spec = (extra: Partial<JobSpec> = {}): JobSpec => ({ type: "t", args: [], ...extra });
const at = (jobs: JobSpec[]): SegmentAt => ({
  store: Store.Queue,
  seq: 9,
  seg: { v: 1, ts: TS, r: 1, q: "default", p: 0, jobs },
});
const maxAttempts = (n: number): Partial<JobSpec> => ({ retry: { ...defaultRetryPolicy(), maxAttempts: n } });

const natsClaim = (a: number, w = "w-old"): JournalOp => ({ op: "claim", i: 0, a, w, at: TS + 1 });
const httpClaim = (a: number, dl: number, w = "w-http"): JournalOp => ({
  op: "claim",
  i: 0,
  a,
  w,
  at: TS + 1,
  dl,
});
const start = (a: number): JournalOp => ({ op: "start", i: 0, a, at: TS + 2 });

function plan(s: JobSpec, ops: JournalOp[], now = TS + 10_000, firstDelivery = false) {
  const a = at([s]);
  return planClaims(a, foldJournal(1, [{ seq: 1, ops }]), now, firstDelivery);
}

/** A plan without the claim object it replaces (for comparing tables). */
function brief(p: SlotPlan): unknown {
  if (p.kind === "claim")
    return p.takeover ? { kind: "claim", a: p.a, started: p.takeover.started } : { kind: "claim", a: p.a };
  if (p.kind === "fail") return { kind: "fail", a: p.a, code: p.err.code };
  return { kind: p.kind };
}

describe("planClaims: one rule per situation", () => {
  const cases: Array<{ name: string; spec: JobSpec; ops: JournalOp[]; now?: number; want: unknown[] }> = [
    { name: "a fresh job is claimed for attempt 1", spec: spec(), ops: [], want: [{ kind: "claim", a: 1 }] },
    {
      name: "a moved copy continues from its carried attempts",
      spec: spec({ attempt: 2 }),
      ops: [],
      want: [{ kind: "claim", a: 3 }],
    },
    {
      name: "a reservation lost with its worker is taken over for the same attempt (not counted)",
      spec: spec(maxAttempts(1)),
      ops: [natsClaim(1)],
      want: [{ kind: "claim", a: 1, started: false }],
    },
    {
      name: "a started attempt lost with its worker: the next attempt, the lost one recorded",
      spec: spec(maxAttempts(3)),
      ops: [natsClaim(1), start(1)],
      want: [{ kind: "claim", a: 2, started: true }],
    },
    {
      name: "a started last attempt lost with its worker fails with lease_expired",
      spec: spec(maxAttempts(2)),
      ops: [natsClaim(1), start(1), { ...natsClaim(2, "w2"), l: 1 } as JournalOp, start(2)],
      want: [{ kind: "fail", a: 2, code: "lease_expired" }],
    },
    {
      name: "an HTTP lease that ran out on the last attempt fails with lease_expired (as on the NATS path)",
      spec: spec(maxAttempts(1)),
      ops: [httpClaim(1, TS + 5_000)],
      want: [{ kind: "fail", a: 1, code: "lease_expired" }],
    },
    {
      name: "an HTTP lease that ran out with attempts left: the next attempt",
      spec: spec(maxAttempts(3)),
      ops: [httpClaim(1, TS + 5_000)],
      want: [{ kind: "claim", a: 2, started: true }],
    },
    {
      name: "a live HTTP lease is left alone",
      spec: spec(),
      ops: [httpClaim(1, TS + 60_000)],
      want: [],
    },
    {
      name: "an HTTP claim past its execution timeout fails with timeout, even within its lease",
      spec: spec({ timeoutMs: 1_000 }),
      ops: [httpClaim(1, TS + 60_000)],
      want: [{ kind: "fail", a: 1, code: "timeout" }],
    },
    {
      name: "a job past expires_at expires instead of running",
      spec: spec({ expiresAt: TS + 1 }),
      ops: [],
      want: [{ kind: "expire" }],
    },
    {
      name: "a job with an outcome is not planned",
      spec: spec(),
      ops: [natsClaim(1), { op: "done", i: 0, a: 1, at: TS + 3 }],
      want: [],
    },
    {
      name: "a reservation given back on shutdown (requeue u) is claimed again for the same attempt",
      spec: spec(),
      ops: [natsClaim(1), { op: "requeue", i: 0, a: 1, at: TS + 3, u: 1 }],
      want: [{ kind: "claim", a: 1 }],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const p = plan(c.spec, c.ops, c.now);
      assert.equal(p.leave, false);
      assert.deepEqual(p.plans.map(brief), c.want);
    });
  }

  it("a first delivery that finds a NATS-direct claim leaves the whole segment alone", () => {
    assert.deepEqual(plan(spec(), [natsClaim(1)], TS + 10_000, true), { leave: true, plans: [] });
    // An HTTP claim does not: its lease says who holds it.
    assert.equal(plan(spec(), [httpClaim(1, TS + 5_000)], TS + 10_000, true).leave, false);
  });
});

describe("claimOps: what a takeover writes", () => {
  const fold = (ops: JournalOp[]) => foldJournal(1, [{ seq: 1, ops }])[0]!;

  it("a reservation taken over is given back uncounted, then claimed for the same attempt", () => {
    const before = [natsClaim(1)];
    const [p] = plan(spec(), before).plans;
    assert.ok(p?.kind === "claim");
    const ops = claimOps(p, { w: "w-new", at: TS + 10_000 });
    assert.deepEqual(
      ops.map((o) => o.op),
      ["requeue", "claim"],
    );
    const s = fold([...before, ...ops]);
    assert.equal(s.claim?.w, "w-new");
    assert.equal(s.claim?.a, 1);
    assert.equal(s.lost, undefined);
    assert.equal(deriveState(at([spec()]), 0, s, TS + 10_000).attempt, 0, "still no attempt used");
  });

  it("a started attempt taken over is recorded as lost, and the old worker's late outcome is ignored", () => {
    const before = [natsClaim(1), start(1)];
    const [p] = plan(spec(), before).plans;
    assert.ok(p?.kind === "claim");
    const ops = claimOps(p, { w: "w-new", at: TS + 10_000 });
    const s = fold([...before, ...ops, { op: "done", i: 0, a: 1, at: TS + 10_001 }]);
    assert.equal(s.outcome, undefined, "attempt 1's late ack does not complete attempt 2");
    assert.deepEqual(s.lost, [{ a: 1, w: "w-old", at: TS + 10_000 }]);
    assert.equal(s.claim?.a, 2);
  });

  it("a handed-off takeover carries its lost attempt's error; a reservation carries none", () => {
    const [started] = plan(spec(), [natsClaim(1), start(1)]).plans;
    const [reserved] = plan(spec(), [natsClaim(1)]).plans;
    assert.ok(started?.kind === "claim" && reserved?.kind === "claim");
    assert.equal(handOffEntry(started, TS).lost?.code, "lease_expired");
    assert.equal(handOffEntry(started, TS).a, 2);
    assert.deepEqual(handOffEntry(reserved, TS), { i: 0, a: 1 });
  });

  it("an HTTP claim carries its lease and ack subject", () => {
    const [p] = plan(spec(), []).plans;
    assert.ok(p?.kind === "claim");
    assert.deepEqual(claimOps(p, { w: "h", at: 5, dl: 10, ack: "$JS.ACK.x" }), [
      { op: "claim", i: 0, a: 1, w: "h", at: 5, dl: 10, ack: "$JS.ACK.x" },
    ]);
  });
});

describe("foldStarts: a start that shares its append with the outcome is folded into it", () => {
  it("drops the start and puts its time on the outcome", () => {
    const ops: JournalOp[] = [
      { op: "start", i: 0, a: 1, at: 5 },
      { op: "start", i: 1, a: 1, at: 6 },
      { op: "done", i: 0, a: 1, at: 9 },
    ];
    assert.deepEqual(foldStarts(ops), [
      { op: "start", i: 1, a: 1, at: 6 },
      { op: "done", i: 0, a: 1, at: 9, s: 4 },
    ]);
  });

  it("keeps a start whose outcome is for another attempt", () => {
    const ops: JournalOp[] = [
      { op: "start", i: 0, a: 2, at: 5 },
      {
        op: "fail",
        i: 0,
        a: 1,
        at: 9,
        err: { code: "x", message: "x", attempt: 1, occurredAt: 9 },
        out: "discard",
      },
    ];
    assert.deepEqual(foldStarts(ops), ops);
  });
});
