/**
 * Backpressure (issue 17, ojs-backpressure): a queue's depth bound set through the OJS admin config
 * route; enqueues past it refused with 429 QUEUE_FULL and the depth headers (a batch whole), the
 * pressure headers past the warning threshold, room again once jobs finish, depth in queue stats.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import type { RunningApiServer } from "../../src/server/run.js";
import { runTestServer } from "../harness/app.js";
import { cli } from "../harness/cli.js";
import { useNats, waitFor } from "../harness/nats.js";

const h = useNats();
const admin = "backpressure-admin-token-0123456789";

describe("backpressure", () => {
  let srv: RunningApiServer;
  const call = async (method: string, path: string, body?: unknown) => {
    const r = await fetch(`${srv.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: r.status, headers: r.headers, body: (await r.json()) as Record<string, unknown> };
  };
  const push = (queue: string, n = 1) =>
    call("POST", "/ojs/v1/jobs", { type: "bp.job", args: [n], options: { queue } });

  before(async () => {
    srv = await runTestServer(h.nats.url, [{ name: "admin", token: admin, scope: "admin" }]);
  });
  after(async () => {
    await srv.close();
  });

  it("refuses past max_depth with 429 QUEUE_FULL and depth headers; room comes back when a job finishes", async () => {
    const cfg = await call("PUT", "/ojs/v1/admin/queues/bp-a/config", {
      backpressure: { max_depth: 3, strategy: "reject", warning_threshold: 0.6 },
    });
    assert.equal(cfg.status, 200, JSON.stringify(cfg.body));
    assert.deepEqual((cfg.body.queue as Record<string, unknown>).backpressure, {
      max_depth: 3,
      strategy: "reject",
      warning_threshold: 0.6,
    });
    const first = await push("bp-a");
    assert.equal(first.status, 201);
    assert.equal(first.headers.get("X-OJS-Queue-Pressure"), null, "1/3 is below the threshold");
    const second = await push("bp-a");
    assert.equal(second.headers.get("X-OJS-Queue-Pressure"), "0.67");
    assert.equal(second.headers.get("X-OJS-Queue-Depth"), "2");
    assert.equal(second.headers.get("X-OJS-Queue-Bound"), "3");

    const batch = await call("POST", "/ojs/v1/jobs/batch", {
      jobs: [1, 2].map((n) => ({ type: "bp.job", args: [n], options: { queue: "bp-a" } })),
    });
    assert.equal(batch.status, 429, "two more would make 4 > 3: the whole batch is refused");
    assert.equal((await push("bp-a")).status, 201, "nothing of the batch was stored: one more fits");

    const full = await push("bp-a");
    assert.equal(full.status, 429);
    assert.equal((full.body.error as Record<string, unknown>).code, "QUEUE_FULL");
    assert.equal(full.headers.get("Retry-After"), "1");
    assert.equal(full.headers.get("X-OJS-Queue-Depth"), "3");
    assert.equal(full.headers.get("X-OJS-Queue-Bound"), "3");

    const stats = await call("GET", "/ojs/v1/queues/bp-a/stats");
    const s = stats.body.stats as Record<string, unknown>;
    assert.equal(s.depth, 3);
    assert.equal(s.max_depth, 3);

    // A worker finishes one job: the queue has room again.
    const fetched = await call("POST", "/ojs/v1/workers/fetch", { queues: ["bp-a"], count: 1 });
    const job = (fetched.body.jobs as Array<{ id: string }>)[0]!;
    assert.equal((await call("POST", "/ojs/v1/workers/ack", { job_id: job.id })).status, 200);
    await waitFor(async () => (await push("bp-a")).status === 201, { what: "room after an ack" });
    assert.equal((await push("bp-a")).status, 429);

    // Removing the bound (max_depth 0) lets everything in again; other queues were never bounded.
    await call("PUT", "/ojs/v1/admin/queues/bp-a/config", { backpressure: { max_depth: 0 } });
    assert.equal((await push("bp-a")).status, 201);
    assert.equal((await push("bp-other")).status, 201);
  });

  it("refuses the strategies jetjob does not have, and bad values", async () => {
    const drop = await call("PUT", "/ojs/v1/admin/queues/bp-b/config", {
      backpressure: { max_depth: 5, strategy: "drop_oldest" },
    });
    assert.equal(drop.status, 422);
    const bad = await call("PUT", "/ojs/v1/admin/queues/bp-b/config", { backpressure: { max_depth: -1 } });
    assert.equal(bad.status, 400);
    // jetjob's own config route takes the same bound.
    const own = await call("PUT", "/api/v1/queues/bp-b/config", { backpressure: { max_depth: 1 } });
    assert.equal(own.status, 200);
    assert.equal((await push("bp-b")).status, 201);
    assert.equal((await push("bp-b")).status, 429);
  });

  it("jetjob queue config --max-depth sets and removes the bound", async () => {
    const flags = ["--api", srv.url, "--token", admin];
    const set = await cli(["queue", "config", "bp-c", "--max-depth", "1", "--json", ...flags]);
    assert.equal(set.code, 0, set.stderr);
    const view = JSON.parse(set.stdout) as { backpressure?: { max_depth: number } };
    assert.equal(view.backpressure?.max_depth, 1);
    assert.equal((await push("bp-c")).status, 201);
    assert.equal((await push("bp-c")).status, 429);
    const full = await cli(["job", "add", "bp.job", "--queue", "bp-c", ...flags]);
    assert.equal(full.code, 3, "queue_full: come back later (exit 3), as the HTTP client maps QUEUE_FULL");
    assert.equal((await cli(["queue", "config", "bp-c", "--max-depth", "0", ...flags])).code, 0);
    assert.equal((await push("bp-c")).status, 201);
  });
});
