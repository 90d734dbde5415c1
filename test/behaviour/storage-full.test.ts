/**
 * JetStream's storage running full (issue 21), on nats-servers with a small `max_file_store`: new
 * jobs are refused with `storage_full` (507) while room is left for stored jobs' outcomes; health
 * and readiness say so; workers finish every stored job; housekeeping frees space and enqueue works
 * again without a restart. A server that does not know the capacity maps JetStream's own refusal to
 * the same error. A store too small for the default events stream still starts.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";

import { silentLogger } from "../../src/core/logger.js";
import type { RunningNatsServer } from "../../src/natsd/index.js";
import { startNatsServer } from "../../src/natsd/index.js";
import type { RunningApiServer } from "../../src/server/run.js";
import { createWorker } from "../../src/worker/index.js";
import { runTestServer } from "../harness/app.js";
import { waitFor } from "../harness/nats.js";

const MiB = 1024 * 1024;
const token = "storage-full-token-0123456789";
const servers: RunningNatsServer[] = [];
const apis: RunningApiServer[] = [];
const dirs: string[] = [];
after(async () => {
  for (const a of apis) await a.close().catch(() => undefined);
  for (const s of servers) await s.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function smallNats(maxFileStoreBytes: number): Promise<RunningNatsServer> {
  const dir = mkdtempSync(join(tmpdir(), "jetjob-full-"));
  dirs.push(dir);
  const s = await startNatsServer({ storeDir: dir, maxFileStoreBytes, monitorPort: -1 });
  servers.push(s);
  return s;
}

function api(srv: RunningApiServer) {
  return async (method: string, path: string, body?: unknown) => {
    const r = await fetch(`${srv.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: r.status, body: (await r.json()) as Record<string, unknown> };
  };
}

const big = "x".repeat(60_000);
/** Enqueues 60 kB jobs until one is refused; returns how many were stored and the refusal. */
async function fill(call: ReturnType<typeof api>, queue: string) {
  for (let n = 0; n < 2000; n++) {
    const r = await call("POST", "/ojs/v1/jobs", { type: "fill", args: [big, n], options: { queue } });
    if (r.status !== 201) return { stored: n, refusal: r };
  }
  throw new Error("the store never filled up");
}

describe("when JetStream's storage is full", () => {
  it("refuses new jobs before it is full, keeps room for outcomes, and recovers as jobs are removed", async () => {
    const capacity = 24 * MiB;
    const nats = await smallNats(capacity);
    const srv = await runTestServer(nats.url, [{ name: "admin", token, scope: "admin" }], {
      storageCapacityBytes: capacity,
      retention: { completedMs: 200 },
      housekeeping: {
        walkIntervalMs: 50,
        tickMs: 25,
        journalGraceMs: 200,
        activeRecheckMaxMs: 200,
        leaseMs: 600,
      },
    });
    apis.push(srv);
    const call = api(srv);
    assert.equal((await call("GET", "/ojs/v1/ready")).status, 200);

    const { stored, refusal } = await fill(call, "full");
    const err = refusal.body.error as { code: string; hint: string; details: { used_bytes: number } };
    console.log(
      `stored ${stored} jobs of 60 kB, then ${refusal.status} ${err.code} at ${(err.details.used_bytes / MiB).toFixed(1)} MiB of 24`,
    );
    assert.equal(refusal.status, 507);
    assert.equal(err.code, "x_storage_full", "jetjob's own code, x_-prefixed on an OJS route (§16.3)");
    assert.match(err.hint, /housekeeping/);
    assert.ok(err.details.used_bytes < capacity - MiB, "refused with room left for outcomes");

    const health = await call("GET", "/health");
    assert.equal(health.status, 200, "the server still serves");
    assert.equal(health.body.status, "degraded");
    assert.equal((health.body.storage as { full: boolean }).full, true);
    const ready = await call("GET", "/ojs/v1/ready");
    assert.equal(ready.status, 503);
    assert.equal(ready.body.ready, false);
    // A new queue is refused the same way (not a 500).
    const other = await call("POST", "/ojs/v1/jobs", { type: "x", args: [], options: { queue: "another" } });
    assert.equal(other.status, 507);

    // Every stored job still runs and its outcome is recorded.
    let done = 0;
    const worker = createWorker({
      nats: nats.url,
      queues: ["full"],
      concurrency: 20,
      handleSignals: false,
      logger: silentLogger,
      handlers: { fill: () => void done++ },
    });
    await worker.ready;
    try {
      await waitFor(() => worker.stats().completed === stored, {
        timeoutMs: 30_000,
        what: "every stored job to complete",
      });
      assert.equal(worker.stats().failed, 0);
    } finally {
      await worker.close();
    }
    // Housekeeping removes them (retention 200 ms) and new jobs are taken again, without a restart.
    await waitFor(async () => (await call("GET", "/ojs/v1/ready")).status === 200, {
      timeoutMs: 60_000,
      intervalMs: 250,
      what: "room for new jobs again",
    });
    const again = await call("POST", "/ojs/v1/jobs", { type: "fill", args: [1], options: { queue: "full" } });
    assert.equal(again.status, 201);
    assert.equal((await call("GET", "/health")).body.status, "ok");
  });

  it("without a known capacity, JetStream's own refusal is storage_full (507), not a 500 or 503", async () => {
    const nats = await smallNats(16 * MiB);
    const srv = await runTestServer(nats.url, [{ name: "admin", token, scope: "admin" }], {
      topology: { eventsMaxBytes: MiB },
    });
    apis.push(srv);
    const call = api(srv);
    const { refusal } = await fill(call, "blind");
    assert.equal(refusal.status, 507);
    assert.equal((refusal.body.error as { code: string }).code, "x_storage_full");
    const health = await call("GET", "/health");
    assert.equal(health.body.status, "degraded");
  });

  it("a store smaller than the default events stream still starts (the stream gets a tenth of it)", async () => {
    const capacity = 40 * MiB; // the default events stream alone asks for 64 MiB
    const nats = await smallNats(capacity);
    const srv = await runTestServer(nats.url, [{ name: "admin", token, scope: "admin" }], {
      storageCapacityBytes: capacity,
    });
    apis.push(srv);
    const info = await srv.engine.ctx.jsm.streams.info(srv.engine.ctx.topology.streams.events);
    assert.equal(info.config.max_bytes, Math.floor(capacity / 10));
  });

  it("a deleted queue stream is noticed, created again with its consumers, and reported", async () => {
    const nats = await smallNats(64 * MiB);
    const srv = await runTestServer(nats.url, [{ name: "admin", token, scope: "admin" }], {
      topology: { eventsMaxBytes: MiB },
    });
    apis.push(srv);
    const call = api(srv);
    assert.equal(
      (await call("POST", "/ojs/v1/jobs", { type: "a", args: [], options: { queue: "lost" } })).status,
      201,
    );
    await srv.engine.ctx.jsm.streams.delete(srv.engine.ctx.topology.streams.queue);

    // The next enqueue finds no stream; that starts the check, which creates it again.
    const first = await call("POST", "/ojs/v1/jobs", { type: "a", args: [], options: { queue: "lost" } });
    assert.ok(first.status === 201 || first.status === 503, `first enqueue: ${first.status}`);
    await waitFor(
      async () =>
        (await call("POST", "/ojs/v1/jobs", { type: "a", args: [2], options: { queue: "lost" } })).status ===
        201,
      { timeoutMs: 10_000, what: "enqueue to work again" },
    );
    const health = await call("GET", "/health");
    assert.equal(health.body.status, "degraded");
    assert.deepEqual((health.body.streams as { recreated: string[] }).recreated, [
      srv.engine.ctx.topology.streams.queue,
    ]);
    // The lane's consumer was created again: a worker runs the new job.
    const worker = createWorker({
      nats: nats.url,
      queues: ["lost"],
      handleSignals: false,
      logger: silentLogger,
      handlers: { a: () => "ran" },
    });
    await worker.ready;
    try {
      await waitFor(() => worker.stats().completed >= 1, { timeoutMs: 10_000, what: "the new job to run" });
    } finally {
      await worker.close();
    }
  });
});
