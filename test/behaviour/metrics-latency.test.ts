/**
 * `GET /api/v1/metrics/latency`: the wait and run time histograms of `/metrics` as JSON per queue.
 * Lifecycle events with known waits and durations are published on NATS (as a worker's process
 * publishes them); the answer's counts and means are exact, its percentiles are the histogram's
 * estimates (histogram_quantile), and both agree with the Prometheus text of the same server.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";

import type { JobEvent } from "../../src/store/jobs/events.js";
import { emitEvents, EventType } from "../../src/store/jobs/events.js";
import type { LatencyResponse } from "../../src/server/metrics-latency.js";
import { histogramQuantile, latencyResponseSchema } from "../../src/server/metrics-latency.js";
import type { TestApp } from "../harness/app.js";
import { startTestApp, testTokens } from "../harness/app.js";
import { useNats, waitFor } from "../harness/nats.js";

describe("histogramQuantile (as Prometheus' histogram_quantile)", () => {
  const b = (...pairs: Array<[number, number]>) => pairs.map(([le, count]) => ({ le, count }));
  it("interpolates linearly inside the bucket that holds the rank", () => {
    // 10 observations: 4 at or below 1 s, 10 at or below 2 s.
    const buckets = b([1, 4], [2, 10], [Infinity, 10]);
    assert.equal(histogramQuantile(0.4, buckets), 1);
    assert.equal(histogramQuantile(0.7, buckets), 1.5);
    assert.equal(histogramQuantile(0.2, buckets), 0.5);
  });
  it("answers the highest finite bound for a rank in +Inf, and nothing without observations", () => {
    assert.equal(histogramQuantile(0.99, b([1, 1], [2, 1], [Infinity, 5])), 2);
    assert.equal(histogramQuantile(0.5, b([1, 0], [Infinity, 0])), undefined);
    assert.equal(histogramQuantile(0.5, []), undefined);
  });
});

const h = useNats();

describe("GET /api/v1/metrics/latency", () => {
  let t: TestApp;
  const queue = `lat-${randomUUID().slice(0, 8)}`;
  const other = `${queue}-other`;

  const get = async (path: string, token: string = testTokens.read) => {
    const res = await t.app.hono.request(path, { headers: { Authorization: `Bearer ${token}` } });
    return { status: res.status, body: await res.json() };
  };

  before(async () => {
    t = await startTestApp(h.nats);
  });
  after(async () => {
    await t.close();
  });

  it("reads wait and run per queue from the histograms: counts, means, p50/p95/p99", async () => {
    const now = Date.now();
    const ev = (e: Omit<JobEvent, "jt" | "q">): JobEvent => ({ jt: "t.lat", q: queue, ...e });
    // Waits of 20, 20, 20 and 3000 ms; runs of 40 ms (three attempts) and 7000 ms (one).
    const events: JobEvent[] = [
      ...[20, 20, 20, 3000].map((w, i) =>
        ev({ t: EventType.Started, at: now, qa: now - w, id: `j${i}`, a: 1 }),
      ),
      ...[40, 40, 40].map((d, i) => ev({ t: EventType.Completed, at: now, d, id: `j${i}`, a: 1 })),
      ev({ t: EventType.Failed, at: now, d: 7000, id: "j3", a: 1, e: "boom" }),
    ];
    emitEvents(t.engine.ctx, queue, events);
    emitEvents(t.engine.ctx, other, [
      { t: EventType.Completed, at: now, d: 5, id: "o1", a: 1, jt: "t.lat", q: other },
    ]);

    const r = await waitFor(
      async () => {
        const res = await get("/api/v1/metrics/latency");
        const body = res.body as LatencyResponse;
        const q = body.queues.find((x) => x.queue === queue);
        return q && q.wait.count === 4 && q.run.count === 4 && body.queues.some((x) => x.queue === other)
          ? body
          : undefined;
      },
      { what: "the events in the histograms" },
    );
    assert.ok(latencyResponseSchema.safeParse(r).success, "the answer matches its documented schema");
    const q = r.queues.find((x) => x.queue === queue)!;
    assert.equal(q.wait.mean_ms, 765);
    assert.equal(q.run.mean_ms, 1780);
    // 3 of 4 waits are in the (10, 25] ms bucket: p50 is inside it; p99 is in the (2.5, 5] s bucket.
    assert.ok(q.wait.p50_ms! > 10 && q.wait.p50_ms! <= 25, String(q.wait.p50_ms));
    assert.ok(q.wait.p99_ms! > 2500 && q.wait.p99_ms! <= 5000, String(q.wait.p99_ms));
    assert.ok(q.run.p50_ms! > 25 && q.run.p50_ms! <= 50, String(q.run.p50_ms));
    assert.ok(q.run.p95_ms! > 5000 && q.run.p95_ms! <= 10000, String(q.run.p95_ms));
    assert.ok(q.wait.p50_ms! <= q.wait.p95_ms! && q.wait.p95_ms! <= q.wait.p99_ms!);
    // The other queue had no start: no wait percentiles are made up for it.
    const o = r.queues.find((x) => x.queue === other)!;
    assert.deepEqual(o.wait, { count: 0 });
    assert.equal(o.run.count, 1);
    assert.ok(r.bucket_bounds_ms.includes(25) && r.bucket_bounds_ms.includes(5000));
    assert.ok(Date.parse(r.since) <= now);

    // The same histogram as the Prometheus text of this server.
    const text = await t.metrics.render();
    assert.ok(text.includes(`jetjob_job_wait_seconds_count{queue="${queue}"} 4`));

    // One queue.
    const one = (await get(`/api/v1/metrics/latency?queue=${other}`)).body as LatencyResponse;
    assert.deepEqual(
      one.queues.map((x) => x.queue),
      [other],
    );
  });

  it("refuses a bad queue name with invalid_request (400) and no token with 401", async () => {
    const bad = await get("/api/v1/metrics/latency?queue=no%20spaces");
    assert.equal(bad.status, 400);
    assert.equal((bad.body as { error: { code: string } }).error.code, "invalid_request");
    const res = await t.app.hono.request("/api/v1/metrics/latency");
    assert.equal(res.status, 401);
  });
});
