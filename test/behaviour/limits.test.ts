/**
 * Payload limits against a real nats-server: too-large args, batches, results and errors are refused
 * with 413 `payload_too_large` and nothing is written; a NATS-direct worker's too-large result fails
 * the attempt with that code instead of wedging the segment.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";

import type { NatsConnection } from "@nats-io/nats-core";

import { createClient } from "../../src/client/index.js";
import { ErrorCode, isJetjobError } from "../../src/core/errors.js";
import { silentLogger } from "../../src/core/logger.js";
import type { App } from "../../src/server/app.js";
import { createApp } from "../../src/server/app.js";
import { createAuthenticator } from "../../src/server/auth.js";
import type { Engine } from "../../src/store/engine.js";
import { startNatsServer } from "../../src/natsd/index.js";
import { createEngine } from "../../src/store/engine.js";
import { createWorker } from "../../src/worker/index.js";
import { useNats, waitFor } from "../harness/nats.js";

const h = useNats();
const token = "limits-test-token-123456";

/** The parts of an API reply these tests read. */
interface Reply {
  error: { code: string; details: Record<string, unknown> };
  job: { id: string };
  jobs: Array<{ id: string }>;
}

describe("payload limits", () => {
  let nc: NatsConnection;
  let engine: Engine;
  let app: App;
  const call = async (method: string, path: string, body?: unknown) => {
    const r = await app.hono.request(path, {
      method,
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: r.status, body: (await r.json()) as Reply };
  };
  /** Whether anything of the queue exists: its registry entry or a segment on one of its lanes. */
  const queueExists = async (name: string) => {
    if ((await engine.listQueues()).some((q) => q.name === name)) return true;
    const info = await engine.ctx.jsm.streams.info(engine.ctx.topology.streams.queue, {
      subjects_filter: `jj.q.${name}.>`,
    });
    return Object.keys(info.state.subjects ?? {}).length > 0;
  };

  before(async () => {
    nc = await h.nats.connect("limits");
    engine = await createEngine(nc, {
      background: false,
      limits: { maxArgsBytes: 2048, maxResultBytes: 1024, maxErrorBytes: 1024, maxBatchJobs: 5 },
    });
    app = createApp({
      engine,
      auth: createAuthenticator([{ name: "admin", token, scope: "admin" }]),
      logger: silentLogger,
      version: "test",
    });
  });
  after(async () => {
    await engine.close();
    await nc.close();
  });

  it("too-large args: 413 payload_too_large, nothing stored", async () => {
    const r = await call("POST", "/ojs/v1/jobs", {
      type: "t.big",
      args: ["x".repeat(3000)],
      options: { queue: "lim-args", rate_limit: { max_per_second: 5 } },
    });
    assert.equal(r.status, 413);
    assert.equal(r.body.error.code, "x_payload_too_large");
    assert.equal(r.body.error.details.limit, 2048);
    assert.equal(await queueExists("lim-args"), false);
  });

  it("too many jobs in a batch, or one too-large job in it: 413, none stored", async () => {
    const job = (i: number, size = 10) => ({
      type: "t.b",
      args: ["y".repeat(size), i],
      options: { queue: "lim-batch" },
    });
    let r = await call("POST", "/ojs/v1/jobs/batch", { jobs: [0, 1, 2, 3, 4, 5].map((i) => job(i)) });
    assert.equal(r.status, 413);
    assert.equal(r.body.error.code, "x_payload_too_large");
    r = await call("POST", "/ojs/v1/jobs/batch", { jobs: [job(0), job(1, 5000), job(2)] });
    assert.equal(r.status, 413);
    assert.equal(r.body.error.code, "x_payload_too_large");
    assert.equal(r.body.error.details.index, 1);
    assert.equal(await queueExists("lim-batch"), false);
    r = await call("POST", "/ojs/v1/jobs/batch", { jobs: [job(0), job(1)] });
    assert.equal(r.status, 201);
  });

  it("an atomic batch that would not fit in one message per queue: refused before anything is written", async () => {
    const nc2 = await h.nats.connect("limits-big");
    const big = await createEngine(nc2, { background: false, limits: { maxArgsBytes: 4 * 1024 * 1024 } });
    try {
      const maxPayload = nc2.info!.max_payload;
      const each = Math.floor(maxPayload / 3);
      const jobs = [0, 1, 2, 3].map((i) => ({
        type: "t.a",
        args: ["z".repeat(each), i],
        options: { queue: "lim-atomic" },
      }));
      // Another queue first in the batch: it would fit, and must not be written either.
      jobs.unshift({ type: "t.a", args: ["small", 9], options: { queue: "lim-atomic-other" } });
      await assert.rejects(
        big.enqueueBatch(jobs),
        (e) => isJetjobError(e) && e.code === ErrorCode.PayloadTooLarge,
      );
      assert.equal(await queueExists("lim-atomic"), false);
      assert.equal(await queueExists("lim-atomic-other"), false);
    } finally {
      await big.close();
      await nc2.close();
    }
  });

  it("too-large result (ack) or error (nack): 413, the job stays active; within the limit they are stored", async () => {
    const enq = await call("POST", "/ojs/v1/jobs", { type: "t.r", args: [], options: { queue: "lim-ack" } });
    assert.equal(enq.status, 201);
    const id = enq.body.job.id;
    const f = await call("POST", "/ojs/v1/workers/fetch", { queues: ["lim-ack"], count: 1 });
    assert.equal(f.body.jobs[0]?.id, id);
    let r = await call("POST", "/ojs/v1/workers/ack", { job_id: id, result: { blob: "r".repeat(2000) } });
    assert.equal(r.status, 413);
    assert.equal(r.body.error.code, "x_payload_too_large");
    assert.equal((await engine.get(id)).state, "active");
    r = await call("POST", "/ojs/v1/workers/nack", {
      job_id: id,
      error: { code: "e", message: "m", details: { blob: "e".repeat(2000) } },
    });
    assert.equal(r.status, 413);
    assert.equal(r.body.error.code, "x_payload_too_large");
    assert.equal((await engine.get(id)).state, "active");
    r = await call("POST", "/ojs/v1/workers/ack", { job_id: id, result: { ok: true } });
    assert.equal(r.status, 200);
    assert.deepEqual((await engine.get(id)).result, { ok: true });
  });

  it("a NATS-direct worker whose handler returns a too-large result: the attempt fails with payload_too_large", async () => {
    const client = createClient({ nats: nc });
    const worker = createWorker({
      nats: h.nats.url,
      queues: ["lim-worker"],
      concurrency: 4,
      handleSignals: false,
      logger: silentLogger,
      handlers: {
        "t.huge": () => "h".repeat(600 * 1024), // over the default 512 KiB
        "t.fine": () => "fine",
      },
    });
    try {
      await worker.ready;
      const huge = await client.enqueue("t.huge", [], { queue: "lim-worker", retry: { maxAttempts: 3 } });
      const fine = await client.enqueue("t.fine", [], { queue: "lim-worker" });
      const done = await client.waitFor(huge.id, { timeoutMs: 20_000 });
      assert.equal(done.state, "discarded");
      assert.equal(done.attempt, 1, "not retried: the same handler returns the same result");
      assert.equal((done.error as { code: string }).code, "payload_too_large");
      assert.equal((await client.waitFor(fine.id)).result, "fine");
    } finally {
      await worker.close();
      await client.close();
    }
  });

  it("results too large together for one journal entry are written in parts (1 MiB max_payload)", async () => {
    // Each result is within the limit (512 KiB); several of them do not fit in one message.
    const dir = mkdtempSync(join(tmpdir(), "jetjob-limits-"));
    const server = await startNatsServer({ storeDir: dir, monitorPort: -1, maxPayloadBytes: 1024 * 1024 });
    const client = createClient({ nats: server.url });
    const size = 300 * 1024;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const worker = createWorker({
      nats: server.url,
      queues: ["lim-flush"],
      concurrency: 8,
      handleSignals: false,
      logger: silentLogger,
      handlers: { "t.wide": async (job) => (await gate, String(job.args[0]).padEnd(size, "w")) },
    });
    try {
      await worker.ready;
      const jobs = await client.enqueueMany(
        Array.from({ length: 8 }, (_, i) => ({ type: "t.wide", args: [i], options: { queue: "lim-flush" } })),
      );
      await waitFor(async () => (await client.get(jobs[7]!.id)).state === "active", { what: "all started" });
      release();
      for (const j of jobs) {
        const done = await client.waitFor(j.id, { timeoutMs: 20_000 });
        assert.equal(done.state, "completed");
        assert.equal((done.result as string).length, size);
      }
    } finally {
      await worker.close();
      await client.close();
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
