/**
 * Exclusive keys against a real nats-server: at most one job per key at a time, in enqueue order,
 * across many workers and both doors (NATS-direct workers and HTTP-style fetch).
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { setTimeout as delay } from "node:timers/promises";

import type { NatsConnection } from "@nats-io/nats-core";

import type { QueueClient } from "../../src/client/index.js";
import { createClient } from "../../src/client/index.js";
import { silentLogger } from "../../src/core/logger.js";
import type { Engine } from "../../src/store/engine.js";
import { createEngine } from "../../src/store/engine.js";
import type { Worker } from "../../src/worker/index.js";
import { createWorker } from "../../src/worker/index.js";
import { activeKeyTokens } from "../../src/store/features/exclusive.js";
import { keyToken } from "../../src/store/infra/topology.js";
import { markKey } from "../../src/store/features/exclusive-line.js";
import { jobIdAt } from "../../src/store/segments/segment.js";
import { useNats, waitFor } from "../harness/nats.js";

const workerScript = fileURLToPath(new URL("../fixtures/worker-process.ts", import.meta.url));

const h = useNats();

interface Run {
  id: string;
  key: string;
  n: number;
  start: number;
  end: number;
}

/** Checks recorded runs: per key, no two overlap, and they started in enqueue order. */
function checkRuns(runs: Run[], order: Map<string, string[]>): void {
  const byKey = new Map<string, Run[]>();
  for (const r of runs) byKey.set(r.key, [...(byKey.get(r.key) ?? []), r]);
  for (const [key, list] of byKey) {
    list.sort((a, b) => a.start - b.start);
    for (let i = 1; i < list.length; i++) {
      assert.ok(
        list[i]!.start >= list[i - 1]!.end,
        `key ${key}: job ${list[i]!.id} started at ${list[i]!.start} before ${list[i - 1]!.id} ended at ${list[i - 1]!.end}`,
      );
    }
    assert.deepEqual(
      list.map((r) => r.id),
      order.get(key),
      `key ${key}: jobs did not start in enqueue order`,
    );
  }
}

describe("exclusive keys", () => {
  let nc: NatsConnection;
  let engine: Engine;
  let client: QueueClient;
  before(async () => {
    nc = await h.nats.connect();
    engine = await createEngine(nc, { leaseMs: 1000, keySweepMs: 200, segmentLeaseMs: 2000 });
    client = createClient({ nats: nc });
  });
  after(async () => {
    await client.close();
    await engine.close();
    await nc.close();
  });

  it("8 workers, 200 jobs over 10 keys: no overlap per key, each key in enqueue order", async () => {
    const runs: Run[] = [];
    let active = 0;
    let maxActive = 0;
    const workers: Worker[] = [];
    for (let w = 0; w < 8; w++) {
      workers.push(
        createWorker({
          nats: h.nats.url,
          queues: ["xk"],
          concurrency: 4,
          handleSignals: false,
          logger: silentLogger,
          handlers: {
            step: async (job) => {
              const [key, n] = job.args as [string, number];
              const start = performance.timeOrigin + performance.now();
              active++;
              maxActive = Math.max(maxActive, active);
              await delay(1 + (n % 4));
              active--;
              runs.push({ id: job.id, key, n, start, end: performance.timeOrigin + performance.now() });
              return n;
            },
          },
        }),
      );
    }
    await Promise.all(workers.map((w) => w.ready));
    const order = new Map<string, string[]>();
    const ids: string[] = [];
    // Mixed: single enqueues and batches, keys interleaved.
    for (let n = 0; n < 200;) {
      if (n % 40 < 20) {
        const key = `tenant-${n % 10}`;
        const job = await client.enqueue("step", [key, n], { queue: "xk", exclusiveKey: key });
        order.set(key, [...(order.get(key) ?? []), job.id]);
        ids.push(job.id);
        n++;
      } else {
        const batch = Array.from({ length: 20 }, (_, k) => {
          const key = `tenant-${(n + k) % 10}`;
          return { type: "step", args: [key, n + k], options: { queue: "xk", exclusiveKey: key } };
        });
        const jobs = await client.enqueueMany(batch);
        jobs.forEach((job, k) => {
          const key = batch[k]!.args[0] as string;
          order.set(key, [...(order.get(key) ?? []), job.id]);
          ids.push(job.id);
        });
        n += 20;
      }
    }
    await waitFor(() => runs.length === 200, { timeoutMs: 60_000, what: "200 jobs to run" });
    await Promise.all(workers.map((w) => w.close()));
    checkRuns(runs, order);
    assert.equal(new Set(runs.map((r) => r.id)).size, 200, "each job ran once");
    assert.ok(maxActive > 1, `keys ran in parallel (max ${maxActive} at once)`);
    const states = await Promise.all(ids.slice(0, 20).map((id) => client.get(id)));
    assert.ok(states.every((j) => j.state === "completed"));
  });

  it("fetch never returns a second job of a key while one is active; the next starts after ack", async () => {
    const a = await engine.enqueue({ type: "t", args: [1], options: { queue: "xf", exclusive_key: "K" } });
    const b = await engine.enqueue({ type: "t", args: [2], options: { queue: "xf", exclusive_key: "K" } });
    const other = await engine.enqueue({
      type: "t",
      args: [3],
      options: { queue: "xf", exclusive_key: "L" },
    });
    assert.equal((await engine.get(b.id)).state, "pending");
    const first = await engine.fetch({ queues: ["xf"], count: 10, workerId: "w1" });
    assert.deepEqual(first.map((j) => j.id).sort(), [a.id, other.id].sort());
    assert.equal((await engine.fetch({ queues: ["xf"], count: 10, workerId: "w2" })).length, 0);
    assert.equal((await engine.get(b.id)).state, "pending");
    await engine.ack(a.id, "done");
    const next = await waitForFetch(engine, "xf");
    assert.deepEqual(
      next.map((j) => j.id),
      [b.id],
    );
    await engine.ack(b.id);
    await engine.ack(other.id);
  });

  it("an enqueue answers with the job's state after the hand-over: available on a free key, pending behind its holder", async () => {
    const body = (key: string) => ({ type: "t", args: [], options: { queue: "xs", exclusive_key: key } });
    const a = await engine.enqueue(body("S1"));
    assert.equal(a.state, "available", "a free key went to the job before the enqueue returned");
    assert.equal((await engine.get(a.id)).state, "available");
    const b = await engine.enqueue(body("S1"));
    assert.equal(b.state, "pending");
    const [c, d] = await engine.enqueueBatch([body("S2"), body("S2")]);
    assert.deepEqual([c?.state, d?.state], ["available", "pending"]);
    for (const id of [b.id, d!.id, a.id, c!.id]) await engine.cancel(id);
  });

  it("a waiting job can be cancelled and the line moves on past it", async () => {
    const a = await engine.enqueue({ type: "t", args: [1], options: { queue: "xc", exclusive_key: "C" } });
    const b = await engine.enqueue({ type: "t", args: [2], options: { queue: "xc", exclusive_key: "C" } });
    const c = await engine.enqueue({ type: "t", args: [3], options: { queue: "xc", exclusive_key: "C" } });
    assert.equal((await engine.cancel(b.id)).state, "cancelled");
    const [got] = await engine.fetch({ queues: ["xc"], count: 1, workerId: "w" });
    assert.equal(got?.id, a.id);
    await engine.cancel(a.id); // an active holder cancelled: the key goes to c
    const next = await waitForFetch(engine, "xc");
    assert.deepEqual(
      next.map((j) => j.id),
      [c.id],
    );
    await engine.ack(c.id);
    assert.equal((await engine.get(b.id)).state, "cancelled");
  });

  it("a job cancelled after the hand-over looked ahead to it is passed over: the key goes to the next one", async () => {
    const q = { queue: "xla", exclusive_key: "LA" };
    const z = await engine.enqueue({ type: "t", args: [0], options: q });
    const a = await engine.enqueue({ type: "t", args: [1], options: q });
    const b = await engine.enqueue({ type: "t", args: [2], options: q });
    const c = await engine.enqueue({ type: "t", args: [3], options: q });
    const [first] = await engine.fetch({ queues: ["xla"], count: 1, workerId: "w" });
    assert.equal(first?.id, z.id);
    // z's release hands the key to a and, a having jobs behind it, walks on to b in the background.
    await engine.ack(z.id);
    assert.deepEqual(
      (await waitForFetch(engine, "xla")).map((j) => j.id),
      [a.id],
    );
    // b, the job the look-ahead found, is cancelled while a runs: a's release must skip it.
    assert.equal((await engine.cancel(b.id)).state, "cancelled");
    await engine.ack(a.id);
    assert.deepEqual(
      (await waitForFetch(engine, "xla")).map((j) => j.id),
      [c.id],
    );
    assert.equal((await engine.get(b.id)).state, "cancelled");
    await engine.ack(c.id);
    assert.equal((await engine.get(c.id)).state, "completed");
  });

  it("a waiting job whose expires_at passes is written off, and the key goes to the next one", async () => {
    const a = await engine.enqueue({ type: "t", args: [1], options: { queue: "xe", exclusive_key: "E" } });
    const b = await engine.enqueue({
      type: "t",
      args: [2],
      options: { queue: "xe", exclusive_key: "E", expires_at: new Date(Date.now() + 200).toISOString() },
    });
    const c = await engine.enqueue({ type: "t", args: [3], options: { queue: "xe", exclusive_key: "E" } });
    const [got] = await engine.fetch({ queues: ["xe"], count: 1, workerId: "w" });
    assert.equal(got?.id, a.id);
    await waitFor(async () => (await engine.get(b.id)).state === "discarded", { what: "b to expire" });
    await engine.ack(a.id);
    // The key is handed on in the background after the ack: wait until a no longer holds it.
    const key = await waitFor(
      async () =>
        (await engine.exclusiveKeys({ queue: "xe" })).find(
          (k) => k.holder !== null && k.holder.job_id !== a.id,
        ),
      { what: "the key to have a new holder" },
    );
    assert.equal(key.holder?.job_id, c.id, "the expired job never takes the key");
    assert.equal(key.waiting, 0);
    await engine.ack((await waitForFetch(engine, "xe"))[0]!.id);
  });

  it("a holder keeps its key through retries; a scheduled job joins the line when due", async () => {
    const a = await engine.enqueue({
      type: "t",
      args: [1],
      options: { queue: "xr", exclusive_key: "R", retry: { max_attempts: 2, initial_interval_ms: 800 } },
    });
    const b = await engine.enqueue({
      type: "t",
      args: [2],
      options: { queue: "xr", exclusive_key: "R", scheduled_at: new Date(Date.now() + 200).toISOString() },
    });
    assert.equal((await engine.get(b.id)).state, "scheduled");
    const [got] = await engine.fetch({ queues: ["xr"], count: 1, workerId: "w" });
    assert.equal(got?.id, a.id);
    await engine.nack(a.id, { error: { code: "boom", message: "boom" } });
    // b becomes due while a waits for its retry: b joins the line, behind a.
    await waitFor(async () => (await engine.get(b.id)).state === "pending", {
      what: "b to wait for the key",
    });
    const again = await waitForFetch(engine, "xr");
    assert.deepEqual(
      again.map((j) => j.id),
      [a.id],
    );
    await engine.ack(a.id);
    const next = await waitForFetch(engine, "xr");
    assert.deepEqual(
      next.map((j) => j.id),
      [b.id],
    );
    await engine.ack(b.id);
  });

  it("a discarded job retried by hand waits for its key again, behind the job that holds it", async () => {
    const opts = { queue: "xv", exclusive_key: "V", retry: { max_attempts: 1 } };
    const a = await engine.enqueue({ type: "t", args: [1], options: opts });
    const b = await engine.enqueue({ type: "t", args: [2], options: opts });
    assert.equal((await waitForFetch(engine, "xv"))[0]!.id, a.id);
    await engine.nack(a.id, { error: { code: "boom", message: "boom" } });
    assert.equal((await engine.get(a.id)).state, "discarded");
    assert.equal((await waitForFetch(engine, "xv"))[0]!.id, b.id);
    const revived = await engine.retryJob(a.id);
    assert.equal(revived.state, "pending", "it waits for the key b holds");
    assert.equal((await engine.fetch({ queues: ["xv"], count: 10, workerId: "w2" })).length, 0);
    await engine.ack(b.id);
    const again = await waitForFetch(engine, "xv");
    assert.deepEqual(
      again.map((j) => j.id),
      [a.id],
    );
    await engine.ack(a.id);
    assert.equal((await engine.get(a.id)).state, "completed");
  });
});

describe("exclusive keys when a worker dies", () => {
  let nc: NatsConnection;
  let engine: Engine;
  before(async () => {
    nc = await h.nats.connect();
    engine = await createEngine(nc, { leaseMs: 1000, keySweepMs: 200, segmentLeaseMs: 1500 });
  });
  after(async () => {
    await engine.close();
    await nc.close();
  });

  it("a worker killed while holding a key frees it after the lease; the job is retried first", async () => {
    const j1 = await engine.enqueue({
      type: "hang",
      args: [1],
      options: { queue: "xkill", exclusive_key: "Z", retry: { max_attempts: 3, initial_interval_ms: 10 } },
    });
    const j2 = await engine.enqueue({
      type: "hang",
      args: [2],
      options: { queue: "xkill", exclusive_key: "Z" },
    });
    const child = spawn(process.execPath, ["--import", "tsx", workerScript, h.nats.url, "xkill"], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.on("data", (b: Buffer) => (out += b.toString()));
    const exited = new Promise((r) => child.once("exit", r));
    try {
      await waitFor(() => out.includes(`started ${j1.id} 1`), {
        timeoutMs: 20_000,
        what: "the child to start j1",
      });
      // Its start is stored with the worker's next write: from then on the attempt counts.
      await waitFor(async () => (await engine.get(j1.id)).state === "active", {
        timeoutMs: 10_000,
        what: "j1's start to be stored",
      });
    } finally {
      child.kill("SIGKILL");
    }
    await exited;
    assert.equal((await engine.get(j1.id)).state, "active", "the dead worker's claim still shows");
    assert.equal((await engine.get(j2.id)).state, "pending");

    const runs: Array<{ id: string; attempt: number; start: number; end: number }> = [];
    const w = createWorker({
      nats: h.nats.url,
      queues: ["xkill"],
      concurrency: 4,
      handleSignals: false,
      logger: silentLogger,
      handlers: {
        hang: async (job) => {
          const start = Date.now();
          await delay(20);
          runs.push({ id: job.id, attempt: job.attempt, start, end: Date.now() });
        },
      },
    });
    await w.ready;
    await waitFor(() => runs.length === 2, { timeoutMs: 20_000, what: "both jobs to run after the lease" });
    await w.close();
    assert.deepEqual(
      runs.map((r) => [r.id, r.attempt]),
      [
        [j1.id, 2],
        [j2.id, 1],
      ],
    );
    assert.ok(runs[1]!.start >= runs[0]!.end, "j2 started only after j1 finished");
    assert.equal((await engine.get(j1.id)).state, "completed");
    assert.equal((await engine.get(j2.id)).state, "completed");
  });

  it("a worker renews its segments within the lane's lease: a job longer than the lease runs once", async () => {
    // The lane's consumer has a 1.5 s lease (segmentLeaseMs); the job takes 4 s. Without renewals at a
    // third of the real lease, the segment would be redelivered to the other worker mid-job.
    const runs: Array<{ attempt: number; worker: string }> = [];
    const workers = ["wa", "wb"].map((name) =>
      createWorker({
        nats: h.nats.url,
        queues: ["xlong"],
        workerId: name,
        concurrency: 2,
        handleSignals: false,
        logger: silentLogger,
        handlers: {
          long: async (job) => {
            runs.push({ attempt: job.attempt, worker: name });
            await delay(4000); // the job's own work, longer than the lease
          },
        },
      }),
    );
    await Promise.all(workers.map((w) => w.ready));
    const job = await engine.enqueue({ type: "long", args: [], options: { queue: "xlong" } });
    await waitFor(async () => (await engine.get(job.id)).state === "completed", {
      timeoutMs: 15_000,
      what: "the long job to complete",
    });
    await Promise.all(workers.map((w) => w.close()));
    assert.equal(runs.length, 1, `ran ${runs.length} times: ${JSON.stringify(runs)}`);
    assert.equal((await engine.get(job.id)).attempt, 1);
  });

  it("the leader's sweep repairs a key left behind by a crash (holder finished, release lost)", async () => {
    const a = await engine.enqueue({ type: "t", args: [1], options: { queue: "xs", exclusive_key: "S" } });
    const b = await engine.enqueue({ type: "t", args: [2], options: { queue: "xs", exclusive_key: "S" } });
    const [got] = await engine.fetch({ queues: ["xs"], count: 1, workerId: "w" });
    assert.equal(got?.id, a.id);
    // Finish a the way a process would that dies right after its journal append: no release.
    const loc = (await engine.svc.locator.locate(a.id))!;
    const { slots, lastSeq, base, since } = await engine.ctx.journals.read(
      loc.at.store,
      loc.at.seq,
      loc.at.seg.jobs.length,
    );
    await engine.ctx.journals.append(
      loc.at.store,
      loc.at.seq,
      [{ op: "done", i: loc.idx, a: slots[loc.idx]!.claim!.a, at: Date.now() }],
      { slots, lastSeq, base, since },
    );
    assert.equal((await engine.get(a.id)).state, "completed");
    const next = await waitForFetch(engine, "xs", 15_000);
    assert.deepEqual(
      next.map((j) => j.id),
      [b.id],
    );
    await engine.ack(b.id);
  });

  it("the sweep hands on a key whose waiting job was stored by a process that died before handing it on", async () => {
    // Store a job on the key's line directly through the producer (no hand-on), as a crash would leave it.
    // (With the sequencer, the default, the leader hands every stored job on: no marker.)
    const lines = !engine.ctx.sequencer;
    if (lines) await markKey(engine.svc, "D");
    const [placed] = await engine.svc.producer.enqueue([
      { queue: "xd", priority: 0, spec: { type: "t", args: [], xkey: "D" } },
    ]);
    const id = jobIdAt(placed!.at, placed!.idx);
    assert.equal((await engine.get(id)).state, "pending");
    const got = await waitForFetch(engine, "xd", 15_000);
    assert.deepEqual(
      got.map((j) => j.id),
      [id],
    );
    await engine.ack(id);
    // Once idle, the attention marker goes away.
    if (lines) {
      await waitFor(async () => !(await activeKeyTokens(engine.svc)).includes(keyToken("D")), {
        what: "the marker of an idle key to be dropped",
      });
    }
  });
});

async function waitForFetch(engine: Engine, queue: string, timeoutMs = 10_000) {
  let got: Awaited<ReturnType<Engine["fetch"]>> = [];
  await waitFor(
    async () => {
      got = await engine.fetch({ queues: [queue], count: 10, workerId: "w" });
      return got.length > 0;
    },
    { timeoutMs, what: `a job in ${queue}` },
  );
  return got;
}
