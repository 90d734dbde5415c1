/**
 * Per-job rate limits (issue 17, ojs-rate-limiting): `options.rate_limit: {key, concurrency: 1}` runs
 * one job per key at a time (an exclusive key), the others wait `available`; keys are independent;
 * `GET /ojs/v1/rate-limits/{key}` shows the partition; what jetjob cannot enforce is refused (422).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import type { RunningApiServer } from "../../src/server/run.js";
import { callApi, runTestServer } from "../harness/app.js";
import { useNats, waitFor } from "../harness/nats.js";

const h = useNats();
const admin = "rate-limits-admin-token-0123456789";

describe("per-job rate limits", () => {
  let srv: RunningApiServer;
  const call = (method: string, path: string, body?: unknown) => callApi(srv.url, admin, method, path, body);
  const push = (key: string, n: number, extra: Record<string, unknown> = {}) =>
    call("POST", "/ojs/v1/jobs", {
      type: "rl.job",
      args: [n],
      options: { queue: "rl-q", rate_limit: { key, concurrency: 1, ...extra } },
    });
  const fetchIds = async (count: number) => {
    const r = await call("POST", "/ojs/v1/workers/fetch", { queues: ["rl-q"], count, worker_id: "w1" });
    return (r.body.jobs as Array<{ id: string }>).map((j) => j.id);
  };

  before(async () => {
    srv = await runTestServer(h.nats.url, [{ name: "admin", token: admin, scope: "admin" }]);
  });
  after(async () => {
    await srv.close();
  });

  it("one running job per key, the rest available and waiting; other keys independent", async () => {
    const a1 = await push("api.a", 1, { on_limit: "wait" });
    const a2 = await push("api.a", 2);
    assert.equal(a1.status, 201, JSON.stringify(a1.body));
    const a2job = a2.body.job as { id: string; state: string };
    assert.equal(a2job.state, "available", "a limited job stays available while it waits");
    const b1 = ((await push("api.b", 3)).body.job as { id: string }).id;

    const first = await fetchIds(3);
    assert.equal(first.length, 2, "one job of each key");
    assert.ok(first.includes(b1));
    const a1id = (a1.body.job as { id: string }).id;
    assert.ok(first.includes(a1id));
    assert.deepEqual(await fetchIds(3), [], "api.a's second job waits for the first");
    assert.equal(
      ((await call("GET", `/ojs/v1/jobs/${a2job.id}`)).body.job as { state: string }).state,
      "available",
    );

    const part = await call("GET", "/ojs/v1/rate-limits/api.a");
    assert.equal(part.status, 200);
    assert.deepEqual(part.body.concurrency, { limit: 1, active: 1, available: 0 });
    assert.equal(part.body.waiting_count, 1);
    const listed = await call("GET", "/ojs/v1/rate-limits");
    assert.deepEqual(
      (listed.body.items as Array<{ key: string }>).map((i) => i.key),
      ["api.a", "api.b"],
    );
    // Page numbers, as the admin UI asks (it showed "Showing NaN–NaN" without page/per_page).
    const paged = await call("GET", "/ojs/v1/rate-limits?page=2&per_page=1");
    assert.deepEqual(
      (paged.body.items as Array<{ key: string }>).map((i) => i.key),
      ["api.b"],
    );
    const p = paged.body.pagination as Record<string, unknown>;
    assert.deepEqual([p.page, p.per_page, p.total], [2, 1, 2]);
    const stats = (await call("GET", "/ojs/v1/queues/rl-q/stats")).body.stats as Record<string, number>;
    assert.equal(stats.available, 1, "the waiting job counts as available");

    assert.equal((await call("POST", "/ojs/v1/workers/ack", { job_id: a1id })).status, 200);
    const next = await waitFor(async () => (await fetchIds(1))[0], { what: "api.a's next job" });
    assert.equal(next, a2job.id);
    const idle = await call("GET", "/ojs/v1/rate-limits/never.used");
    assert.deepEqual(idle.body, {
      key: "never.used",
      concurrency: { limit: 1, active: 0, available: 1 },
      waiting_count: 0,
    });
  });

  it("refuses what it cannot enforce instead of ignoring it", async () => {
    assert.equal((await push("api.c", 1, { concurrency: 5 })).status, 422);
    assert.equal((await push("api.c", 1, { rate: { limit: 10, period: "PT1M" } })).status, 422);
    assert.equal((await push("api.c", 1, { on_limit: "drop" })).status, 422);
    assert.equal((await push("bad key!", 1)).status, 400);
    const both = await call("POST", "/ojs/v1/jobs", {
      type: "rl.job",
      args: [],
      options: { exclusive_key: "x", rate_limit: { key: "api.c", concurrency: 1 } },
    });
    assert.equal(both.status, 400);
    const queueRate = await call("POST", "/ojs/v1/jobs", {
      type: "rl.job",
      args: [],
      options: { queue: "rl-rate", rate_limit: { max_per_second: 50 } },
    });
    assert.equal(queueRate.status, 201, "the queue-level form still works");
  });
});
