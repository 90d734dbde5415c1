import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { ErrorCode, ValidationError } from "../../src/core/errors.js";
import { checkCreate, newFleetRecord, operationKind } from "../../src/fleet/create-job.js";
import { isFleetId } from "../../src/fleet/ids.js";
import { fleetDefaults } from "../../src/fleet/options.js";

const req = { op: "system.hostname.get", target: "all" };

describe("creating a fleet job", () => {
  it("refuses a bad id, op, timeout, ack window or oversized args", () => {
    const bad: Array<[Record<string, unknown>, (err: unknown) => boolean]> = [
      [{ id: "nope" }, (err) => err instanceof ValidationError],
      [{ op: "bad op" }, (err) => err instanceof ValidationError],
      [{ timeoutMs: 50 }, (err) => err instanceof ValidationError],
      [{ ackWindowMs: 10 }, (err) => err instanceof ValidationError],
      [
        { args: ["x".repeat(300 * 1024)] },
        (err) => (err as { code?: string }).code === ErrorCode.PayloadTooLarge,
      ],
    ];
    for (const [change, expected] of bad) {
      assert.throws(
        () => checkCreate({ ...req, ...change }, fleetDefaults),
        expected,
        JSON.stringify(change).slice(0, 60),
      );
    }
    checkCreate({ ...req, timeoutMs: 1000, ackWindowMs: 50, args: [1] }, fleetDefaults);
  });

  it("takes the kind the agents declare, else the caller's, else the op's verb", () => {
    const modify = [{ host: "h1", kind: "modify" as const }];
    assert.equal(operationKind(req, modify), "modify");
    assert.throws(() => operationKind({ ...req, kind: "query" }, modify), /cannot run as a query/);
    assert.equal(operationKind({ ...req, kind: "modify" }, [{ host: "h1", kind: "query" }]), "modify");
    assert.equal(operationKind(req, [{ host: "h1", kind: "query" }]), "query");
  });

  it("makes a record owned by this controller at epoch 1", () => {
    const rec = newFleetRecord(
      { timings: fleetDefaults, controllerId: "ctl-1" },
      { ...req, createdBy: "ada" },
      {
        hosts: ["a", "b"],
        leftOut: [],
        kind: "query",
        pickOne: false,
      },
    );
    assert.ok(isFleetId(rec.id));
    assert.equal(rec.owner, "ctl-1");
    assert.equal(rec.epoch, 1);
    assert.equal(rec.status, "running");
    assert.equal(rec.deadline_at - rec.created_at, fleetDefaults.defaultTimeoutMs);
    assert.equal(rec.ack_window_ms, fleetDefaults.ackWindowMs);
    assert.equal(rec.created_by, "ada");
    assert.equal("left_out" in rec, false);
    assert.equal("pick_one" in rec, false);
  });
});
