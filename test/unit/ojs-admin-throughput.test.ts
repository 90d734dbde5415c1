/**
 * The pure parts of the Admin API's statistics (server/ojs-admin-throughput.ts): scaling a bounded
 * last-minute count to the whole minute, quantiles of waits, and the query's times (RFC 3339 or a
 * span back such as the OJS CLI's `--since 24h`).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import type { EventCounts } from "../../src/server/ojs-admin-throughput.js";
import { mean, perMinute, quantile, timeOrAgo } from "../../src/server/ojs-admin-throughput.js";

const counts = (approximate: boolean, coveredUntilMs: number): EventCounts => ({
  buckets: [],
  approximate,
  coveredUntilMs,
});

describe("Admin API statistics", () => {
  it("scales a count that covered part of the minute to the whole minute", () => {
    assert.equal(perMinute(counts(false, 60_000), 0, 60_000)(42), 42, "complete: as counted");
    assert.equal(perMinute(counts(true, 15_000), 0, 60_000)(100), 400, "a quarter covered: ×4");
    assert.equal(perMinute(counts(true, 0), 0, 60_000)(7), 7, "nothing covered: no division by zero");
  });

  it("gives quantiles and means of waits, and nothing for none", () => {
    assert.equal(quantile([], 0.5), undefined);
    assert.equal(mean([]), undefined);
    const waits = [50, 10, 40, 20, 30];
    assert.equal(quantile(waits, 0.5), 30);
    assert.equal(quantile(waits, 0.99), 50);
    assert.equal(mean([10, 20]), 15);
  });

  it("reads times as RFC 3339 or as a span back from now", () => {
    const now = Date.parse("2026-02-13T12:00:00Z");
    assert.equal(timeOrAgo(undefined, now), undefined);
    assert.equal(timeOrAgo("24h", now), now - 24 * 3_600_000);
    assert.equal(timeOrAgo("90s", now), now - 90_000);
    assert.equal(timeOrAgo("2026-02-13T11:00:00Z", now), now - 3_600_000);
    assert.ok(Number.isNaN(timeOrAgo("yesterday", now)));
  });
});
