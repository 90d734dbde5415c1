/**
 * The OJS progress extension (ojs-progress, issue 17) against a real API server and a real worker:
 * reports over HTTP (both request forms) and from a handler's `job.progress()` over NATS, the
 * stored latest value (clamped, never decreasing, scoped to the attempt, 1.0 once completed), the
 * job view, the `job.progress` event, and reports on jobs that are not running.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { silentLogger } from "../../src/core/logger.js";
import { readProgress } from "../../src/store/jobs/progress.js";
import type { RunningApiServer } from "../../src/server/run.js";
import { createWorker } from "../../src/worker/index.js";
import { callApi, runTestServer } from "../harness/app.js";
import { cli } from "../harness/cli.js";
import { useNats, waitFor } from "../harness/nats.js";

const h = useNats();
const token = "tok-admin-progress-7c1e4b90";

describe("job progress", () => {
  let srv: RunningApiServer;
  before(async () => {
    srv = await runTestServer(h.nats.url, [{ name: "admin", token, scope: "admin" }]);
  });
  after(async () => {
    await srv.close();
  });

  const call = (method: string, path: string, body?: unknown) => callApi(srv.url, token, method, path, body);

  /** Enqueues a job on `queue` and fetches it as HTTP worker `worker`: it is active afterwards. */
  const activeJob = async (queue: string, worker = "w-progress", options: object = {}): Promise<string> => {
    const enq = await call("POST", "/ojs/v1/jobs", {
      type: "t.progress",
      args: [],
      options: { queue, ...options },
    });
    assert.equal(enq.status, 201);
    const id = (enq.body.job as { id: string }).id;
    const fetched = await call("POST", "/ojs/v1/workers/fetch", { queues: [queue], worker_id: worker });
    assert.equal((fetched.body.jobs as Array<{ id: string }>)[0]?.id, id);
    return id;
  };

  it("stores the latest report of an active job, clamped and never decreasing, and shows it", async () => {
    const id = await activeJob("prg-http");
    const none = await call("GET", `/ojs/v1/jobs/${id}/progress`);
    assert.equal(none.status, 200);
    assert.deepEqual(
      { progress: none.body.progress, message: none.body.message, data: none.body.data },
      { progress: null, message: null, data: null },
    );

    const first = await call("PUT", `/ojs/v1/jobs/${id}/progress`, {
      progress: 0.4,
      message: "rows 400/1000",
      data: { rows: 400 },
    });
    assert.equal(first.status, 200);
    assert.equal(first.body.accepted, true);
    assert.equal(first.body.progress, 0.4);

    // A lower value keeps the higher one; message and data still update.
    const lower = await call("PUT", `/ojs/v1/jobs/${id}/progress`, { progress: 0.1, message: "again" });
    assert.equal(lower.body.progress, 0.4);
    assert.equal(lower.body.message, "again");
    // The official SDK's form: percent.
    const sdk = await call("POST", "/ojs/v1/workers/progress", { job_id: id, percentage: 75 });
    assert.equal(sdk.status, 200);
    assert.equal(sdk.body.progress, 0.75);
    const over = await call("PUT", `/ojs/v1/jobs/${id}/progress`, { progress: 7 });
    assert.equal(over.body.progress, 1);

    const got = await call("GET", `/ojs/v1/jobs/${id}/progress`);
    assert.equal(got.body.progress, 1);
    assert.equal(got.body.message, "again");
    assert.deepEqual(got.body.data, { rows: 400 });
    assert.equal(got.body.state, "active");
    const job = (await call("GET", `/ojs/v1/jobs/${id}`)).body.job as Record<string, unknown>;
    assert.equal(job.progress, 1);
    assert.equal(job.progress_message, "again");
    assert.equal(((await call("GET", `/api/v1/jobs/${id}`)).body.job as Record<string, unknown>).progress, 1);
    const shown = await cli(["job", "get", id, "--api", srv.url, "--token", token]);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /progress\s+100% again \{"rows":400\} \(/);

    // One job.progress event at least, in the ojs-events data form.
    const events = await waitFor(async () => {
      const r = await call("GET", `/ojs/v1/events?type=job.progress&queue=prg-http`);
      const list = (r.body.events ?? r.body.items) as Array<{ data: Record<string, unknown> }> | undefined;
      return list?.find((e) => e.data.job_id === id);
    });
    assert.equal(events.data.progress_percent, 40);
    assert.equal(events.data.progress_message, "rows 400/1000");
    assert.equal(events.data.worker_id, "w-progress");
  });

  it("ignores reports on jobs that are not active, refuses empty ones, 404s unknown jobs", async () => {
    const enq = await call("POST", "/ojs/v1/jobs", {
      type: "t.progress",
      args: [],
      options: { queue: "prg-idle" },
    });
    const id = (enq.body.job as { id: string }).id;
    const idle = await call("PUT", `/ojs/v1/jobs/${id}/progress`, { progress: 0.5 });
    assert.equal(idle.status, 200);
    assert.equal(idle.body.accepted, false);
    assert.equal(idle.body.state, "available");
    assert.equal(idle.body.progress, null);

    const active = await activeJob("prg-other", "holder");
    // A worker that does not hold the job is ignored too.
    const stranger = await call("PUT", `/ojs/v1/jobs/${active}/progress`, { progress: 0.5, worker_id: "x" });
    assert.equal(stranger.body.accepted, false);
    assert.equal((await call("PUT", `/ojs/v1/jobs/${active}/progress`, {})).status, 400);
    const unknown = "019539a4-0000-7000-8000-000000000000";
    assert.equal((await call("PUT", `/ojs/v1/jobs/${unknown}/progress`, { progress: 0.1 })).status, 404);
    assert.equal((await call("GET", `/ojs/v1/jobs/${unknown}/progress`)).status, 404);
  });

  it("shows 1.0 once completed, keeps the value of a failed attempt, starts a retry empty", async () => {
    const done = await activeJob("prg-done");
    await call("PUT", `/ojs/v1/jobs/${done}/progress`, { progress: 0.3 });
    assert.equal((await call("POST", "/ojs/v1/workers/ack", { job_id: done })).status, 200);
    assert.equal((await call("GET", `/ojs/v1/jobs/${done}/progress`)).body.progress, 1);

    const failing = await activeJob("prg-retry", "w-retry", {
      retry: { max_attempts: 3, initial_interval: "PT0S" },
    });
    await call("PUT", `/ojs/v1/jobs/${failing}/progress`, { progress: 0.6 });
    await call("POST", "/ojs/v1/workers/nack", { job_id: failing, error: { message: "boom" } });
    assert.equal((await call("GET", `/ojs/v1/jobs/${failing}/progress`)).body.progress, 0.6);
    await waitFor(async () => {
      const r = await call("POST", "/ojs/v1/workers/fetch", { queues: ["prg-retry"], worker_id: "w-retry" });
      return (r.body.jobs as unknown[]).length > 0;
    });
    const second = await call("GET", `/ojs/v1/jobs/${failing}/progress`);
    assert.equal(second.body.progress, null, "attempt 2 starts without attempt 1's progress");
  });

  it("extends the lease of an HTTP-claimed job once half its visibility timeout is gone", async () => {
    const id = await activeJob("prg-lease", "w-lease", { visibility_timeout_ms: 1500 });
    const deadline = async () => {
      const job = (await call("GET", `/ojs/v1/jobs/${id}`)).body.job as Record<string, unknown>;
      return job;
    };
    const before = await deadline();
    // Wait (by polling, not sleeping) until more than half of the 1.5 s is gone, then report.
    const claimedAt = Date.now();
    await waitFor(() => Date.now() - claimedAt > 800, { what: "half the visibility timeout" });
    await call("PUT", `/ojs/v1/jobs/${id}/progress`, { progress: 0.2 });
    // Past the original 1.5 s, the job is still active (without the extension it would be claimable).
    await waitFor(() => Date.now() - claimedAt > 1700, { what: "the original lease end" });
    const after = await deadline();
    assert.equal(before.state, "active");
    assert.equal(after.state, "active");
    const again = await call("POST", "/ojs/v1/workers/fetch", { queues: ["prg-lease"], worker_id: "other" });
    assert.deepEqual(again.body.jobs, []);
  });

  it("takes reports from a worker handler's job.progress() over NATS, at most one a second", async () => {
    let release: () => void = () => undefined;
    const held = new Promise<void>((r) => (release = r));
    const worker = createWorker({
      nats: h.nats.url,
      queues: ["prg-sdk"],
      handleSignals: false,
      logger: silentLogger,
      handlers: {
        "t.progress": async (job) => {
          void job.progress(0.25, "a quarter", { step: 1 });
          // Within the same second: merged, only the latest value is sent next.
          void job.progress(0.5);
          await job.progress(0.6, "more than half");
          await held;
          return "ok";
        },
      },
    });
    await worker.ready;
    const enq = await call("POST", "/ojs/v1/jobs", {
      type: "t.progress",
      args: [],
      options: { queue: "prg-sdk" },
    });
    const id = (enq.body.job as { id: string }).id;
    const seen = await waitFor(async () => {
      const r = await call("GET", `/ojs/v1/jobs/${id}/progress`);
      return r.body.progress === 0.6 ? r.body : undefined;
    });
    assert.equal(seen.message, "more than half");
    assert.deepEqual(seen.data, { step: 1 });
    assert.equal(seen.state, "active");
    release();
    await waitFor(
      async () =>
        ((await call("GET", `/ojs/v1/jobs/${id}`)).body.job as { state: string }).state === "completed",
    );
    assert.equal((await call("GET", `/ojs/v1/jobs/${id}/progress`)).body.progress, 1);
    await worker.close();
  });

  it("is purged by an engine reset (a client-chosen id used again starts without progress)", async () => {
    const id = await activeJob("prg-reset");
    await call("PUT", `/ojs/v1/jobs/${id}/progress`, { progress: 0.9 });
    assert.ok(await readProgress(srv.engine.ctx, id));
    await srv.engine.reset();
    assert.equal(await readProgress(srv.engine.ctx, id), undefined);
  });
});
