import assert from "node:assert/strict";
import { describe, it } from "node:test";

import type { JobEvent } from "../../src/store/jobs/events.js";
import { EventType, decodeEvents, encodeEvents, toEventView } from "../../src/store/jobs/events.js";

const enc = new TextEncoder();
const id = "019ad2c1-1234-7abc-8def-0123456789ab";

describe("event batches on the wire", () => {
  it("round-trip every field, and only the fields that were set", () => {
    const events: JobEvent[] = [
      { t: EventType.Enqueued, at: 1000, id, jt: "email", q: "mail", a: 0 },
      { t: EventType.Started, at: 1001, id, jt: "email", q: "mail", a: 1, w: "w1", qa: 999 },
      { t: EventType.Completed, at: 1005, id, jt: "email", q: "mail", a: 1, d: 4, w: "w1" },
      {
        t: EventType.Failed,
        at: 1006,
        id,
        jt: "email",
        q: "mail",
        a: 2,
        d: 1,
        w: "w1",
        e: "boom",
        tid: "abc",
      },
      { t: EventType.Expired, at: 1007, id, jt: "email", q: "other" },
    ];
    const wire = encodeEvents("mail", events);
    assert.deepEqual(decodeEvents(enc.encode(wire)), events);
    // Compact: no field names, the queue once.
    assert.equal(wire.split('"mail"').length - 1, 1);
    assert.ok(!wire.includes('"jt"'));
  });

  it("still reads version 1 batches (arrays of event objects)", () => {
    const v1 = [{ t: EventType.Completed, at: 5, id, jt: "x", q: "default", a: 1, d: 2, w: "w" }];
    assert.deepEqual(decodeEvents(enc.encode(JSON.stringify(v1))), v1);
  });

  it("drops malformed rows and garbage instead of throwing", () => {
    const bad = JSON.stringify({
      v: 2,
      q: "q",
      e: [[99, 1, id, "t"], ["x"], 7, [3, "later", id, "t"], [3, 1, id, "t"]],
    });
    assert.deepEqual(decodeEvents(enc.encode(bad)), [{ t: EventType.Completed, at: 1, id, jt: "t", q: "q" }]);
    assert.deepEqual(decodeEvents(enc.encode("{not json")), []);
    assert.deepEqual(decodeEvents(enc.encode(JSON.stringify({ v: 3, q: "q", e: [] }))), []);
  });
});

describe("events in the ojs-events envelope", () => {
  it("job.started carries ready_at, the start of the attempt's wait; other events do not", () => {
    const started = toEventView({
      t: EventType.Started,
      at: Date.parse("2026-01-02T03:04:06.500Z"),
      id,
      jt: "email",
      q: "mail",
      a: 2,
      qa: Date.parse("2026-01-02T03:04:05.250Z"),
    });
    assert.equal(started.data.ready_at, "2026-01-02T03:04:05.250Z");
    assert.equal(started.time, "2026-01-02T03:04:06.500Z");
    const completed = toEventView({
      t: EventType.Completed,
      at: 1005,
      id,
      jt: "email",
      q: "mail",
      a: 1,
      d: 4,
    });
    assert.equal("ready_at" in completed.data, false);
    // Events of processes older than the `qa` field have no ready time: none is made up.
    const old = toEventView({ t: EventType.Started, at: 1001, id, jt: "email", q: "mail", a: 1 });
    assert.equal("ready_at" in old.data, false);
  });
});
