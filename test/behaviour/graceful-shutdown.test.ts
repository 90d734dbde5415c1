/**
 * The OJS graceful-shutdown extension (ojs-graceful-shutdown, issue 17) against a real API server: an
 * HTTP worker's beat with `state: drain` is acknowledged and kept in the worker registry, a draining
 * worker's fetches get no jobs (others still do) until it beats `running` again, its health says so,
 * and an SDK worker shows as draining while `close()` waits for its running job.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { silentLogger } from "../../src/core/logger.js";
import type { RunningApiServer } from "../../src/server/run.js";
import { createWorker } from "../../src/worker/index.js";
import { callApi, runTestServer } from "../harness/app.js";
import { cli } from "../harness/cli.js";
import { useNats, waitFor } from "../harness/nats.js";

const h = useNats();
const token = "tok-admin-shutdown-5d02e7aa";

interface WorkerRow {
  kind: string;
  id?: string;
  state?: string;
}

describe("graceful shutdown", () => {
  let srv: RunningApiServer;
  before(async () => {
    srv = await runTestServer(h.nats.url, [{ name: "admin", token, scope: "admin" }]);
  });
  after(async () => {
    await srv.close();
  });

  const call = (method: string, path: string, body?: unknown) => callApi(srv.url, token, method, path, body);
  const enqueue = async (queue: string) =>
    (
      (await call("POST", "/ojs/v1/jobs", { type: "t.gs", args: [], options: { queue } })).body.job as {
        id: string;
      }
    ).id;
  const fetchAs = async (worker: string, queue: string) =>
    (await call("POST", "/ojs/v1/workers/fetch", { queues: [queue], worker_id: worker })).body.jobs as Array<{
      id: string;
    }>;
  const registryState = async (id: string) =>
    ((await call("GET", "/api/v1/workers")).body.workers as WorkerRow[]).find(
      (w) => w.kind === "queue" && w.id === id,
    )?.state;

  it("gives a draining HTTP worker no jobs, shows it draining, and takes it back when it runs again", async () => {
    const queue = "gs-http";
    const first = await enqueue(queue);
    assert.equal((await fetchAs("gs-w1", queue))[0]?.id, first, "a running worker gets jobs");
    const second = await enqueue(queue);

    const beat = await call("POST", "/ojs/v1/workers/beat", {
      worker_id: "gs-w1",
      state: "drain",
      active_jobs: 1,
    });
    assert.equal(beat.status, 200);
    assert.equal(beat.body.acknowledged, true);
    assert.equal(beat.body.state, "draining");
    assert.deepEqual(await fetchAs("gs-w1", queue), [], "no new jobs while draining");

    const health = await call("GET", "/ojs/v1/workers/gs-w1/health");
    assert.equal(health.status, 503);
    assert.equal(health.body.state, "draining");
    assert.equal(health.body.active_jobs, 1);
    assert.equal(await registryState("gs-w1"), "draining");
    const listed = await cli(["worker", "list", "--api", srv.url, "--token", token]);
    assert.match(listed.stdout, /gs-w1\s+draining/);

    // Another worker still gets the job; the draining one finishes what it holds.
    assert.equal((await fetchAs("gs-w2", queue))[0]?.id, second);
    assert.equal(
      (await call("POST", "/ojs/v1/workers/ack", { job_id: first, worker_id: "gs-w1" })).status,
      200,
    );

    const third = await enqueue(queue);
    await call("POST", "/ojs/v1/workers/beat", { worker_id: "gs-w1", state: "running" });
    assert.equal((await fetchAs("gs-w1", queue))[0]?.id, third, "running again: jobs again");
    assert.equal((await call("GET", "/ojs/v1/workers/gs-w1/health")).status, 200);
  });

  it("refuses an unknown state and answers 404 for an unknown worker's health", async () => {
    const bad = await call("POST", "/ojs/v1/workers/beat", { worker_id: "gs-w3", state: "sleepy" });
    assert.equal(bad.status, 400);
    assert.equal((await call("GET", "/ojs/v1/workers/nobody-here/health")).status, 404);
    // `shutdown: true` without a state means draining.
    const shut = await call("POST", "/ojs/v1/workers/beat", { worker_id: "gs-w3", shutdown: true });
    assert.equal(shut.body.state, "draining");
  });

  it("shows an SDK worker as draining while close() waits for its running job", async () => {
    let started: () => void = () => undefined;
    const running = new Promise<void>((r) => (started = r));
    let release: () => void = () => undefined;
    const held = new Promise<void>((r) => (release = r));
    const worker = createWorker({
      nats: h.nats.url,
      queues: ["gs-sdk"],
      handleSignals: false,
      logger: silentLogger,
      handlers: {
        "t.gs": async () => {
          started();
          await held;
        },
      },
    });
    await worker.ready;
    assert.equal(await waitFor(() => registryState(worker.id)), "running");
    await enqueue("gs-sdk");
    await running;
    const closing = worker.close();
    assert.equal(
      await waitFor(async () => ((await registryState(worker.id)) === "draining" ? "draining" : undefined)),
      "draining",
    );
    release();
    await closing;
    assert.equal(await registryState(worker.id), undefined, "gone from the registry once stopped");
  });
});
