import assert from "node:assert/strict";
import { after, afterEach, before, describe, it } from "node:test";

import type { NatsConnection } from "@nats-io/nats-core";

import { createClient } from "../../src/client/index.js";
import type { QueueClient } from "../../src/client/index.js";
import type { Engine } from "../../src/store/engine.js";
import { createEngine } from "../../src/store/engine.js";
import type { Worker } from "../../src/worker/index.js";
import { createWorker, JobFailure } from "../../src/worker/index.js";
import { silentLogger } from "../../src/core/logger.js";
import { useNats, waitFor } from "../harness/nats.js";
import { cancelWithoutNotice } from "../harness/engine.js";

const h = useNats();

describe("NATS-direct worker", () => {
  let nc: NatsConnection;
  let engine: Engine;
  let client: QueueClient;
  before(async () => {
    nc = await h.nats.connect();
    engine = await createEngine(nc);
    client = createClient({ nats: nc });
  });
  after(async () => {
    await client.close();
    await engine.close();
    await nc.close();
  });
  // A test that fails before its own close() must not leave its worker running (the file would hang).
  const open = new Set<Worker>();
  const track = (w: Worker): Worker => (open.add(w), w);
  afterEach(async () => {
    for (const w of open) await w.close();
    open.clear();
  });

  it("runs handlers and records results", async () => {
    const seen: Array<{ args: unknown[]; attempt: number }> = [];
    const worker = track(
      createWorker({
        nats: h.nats.url,
        queues: ["w1"],
        handleSignals: false,
        logger: silentLogger,
        handlers: {
          "math.add": (job) => {
            seen.push({ args: job.args, attempt: job.attempt });
            return (job.args as number[]).reduce((a, b) => a + b, 0);
          },
        },
      }),
    );
    await worker.ready;
    const job = await client.enqueue("math.add", [2, 3], { queue: "w1" });
    const done = await client.waitFor(job.id, { timeoutMs: 10_000 });
    assert.equal(done.state, "completed");
    assert.equal(done.result, 5);
    assert.deepEqual(seen, [{ args: [2, 3], attempt: 1 }]);
    assert.equal(done.worker_id, worker.id);
    await worker.close();
  });

  it("gives the handler the job's fields under the names the client's jobs use", async () => {
    const fields: Record<string, unknown>[] = [];
    const worker = track(
      createWorker({
        nats: h.nats.url,
        queues: ["wnames"],
        handleSignals: false,
        logger: silentLogger,
        handlers: {
          named: (job) => {
            const { id, type, queue, args, attempt, max_attempts, priority, created_at } = job;
            fields.push({ id, type, queue, args, attempt, max_attempts, priority, created_at });
            // The older camelCase names stay as aliases of the same values.
            assert.equal(job.maxAttempts, max_attempts);
            assert.equal(job.createdAt.toISOString(), created_at);
          },
        },
      }),
    );
    await worker.ready;
    const job = await client.enqueue("named", ["x"], {
      queue: "wnames",
      priority: 3,
      retry: { maxAttempts: 4 },
    });
    const done = await client.waitFor(job.id, { timeoutMs: 10_000 });
    assert.equal(done.state, "completed");
    assert.deepEqual(fields, [
      {
        id: done.id,
        type: done.type,
        queue: done.queue,
        args: done.args,
        attempt: done.attempt,
        max_attempts: done.max_attempts,
        priority: done.priority,
        created_at: done.created_at,
      },
    ]);
    assert.equal(done.max_attempts, 4);
    await worker.close();
  });

  it("completes a burst of jobs exactly once each", async () => {
    const counts = new Map<number, number>();
    const worker = track(
      createWorker({
        nats: h.nats.url,
        queues: ["burst"],
        concurrency: 20,
        handleSignals: false,
        logger: silentLogger,
        handlers: {
          noop: (job) => {
            const n = job.args[0] as number;
            counts.set(n, (counts.get(n) ?? 0) + 1);
          },
        },
      }),
    );
    await worker.ready;
    const N = 2000;
    const jobs = await Promise.all(
      Array.from({ length: N }, (_, i) => client.enqueue("noop", [i], { queue: "burst" })),
    );
    await waitFor(() => worker.stats().completed === N, { timeoutMs: 30_000, what: `${N} completions` });
    assert.equal(counts.size, N);
    assert.ok(
      [...counts.values()].every((c) => c === 1),
      "no job ran twice",
    );
    const sample = await client.get(jobs[N - 1]!.id);
    assert.equal(sample.state, "completed");
    await worker.close();
    await waitFor(async () => (await client.get(jobs[0]!.id)).state === "completed");
  });

  /** A worker whose `gated` handler says it runs (`running`), then waits for `release()` and returns "ok". */
  function gatedWorker(queue: string) {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let entered!: () => void;
    const running = new Promise<void>((r) => (entered = r));
    const worker = track(
      createWorker({
        nats: h.nats.url,
        queues: [queue],
        handleSignals: false,
        logger: silentLogger,
        handlers: {
          gated: async () => {
            entered();
            await gate;
            return "ok";
          },
        },
      }),
    );
    return { worker, running, release };
  }

  it("counts and reports a completion only once it is stored", async () => {
    const { worker, running, release } = gatedWorker("wstored");
    const completions: string[] = [];
    worker.on("job:complete", (e) => completions.push(e.id));
    await worker.ready;
    const job = await client.enqueue("gated", [], { queue: "wstored" });
    await running;
    // NATS stops answering: the handler returns, but its outcome cannot be stored yet.
    const pid = h.nats.server.pid;
    process.kill(pid, "SIGSTOP");
    try {
      release();
      await new Promise((r) => setImmediate(r)); // every microtask of the handler's return has run
      assert.equal(worker.stats().completed, 0, "not counted before it is stored");
      assert.deepEqual(completions, [], "no job:complete before it is stored");
    } finally {
      process.kill(pid, "SIGCONT");
    }
    await waitFor(() => worker.stats().completed === 1, { what: "the stored completion" });
    assert.deepEqual(completions, [job.id]);
    assert.equal((await client.get(job.id)).state, "completed");
    assert.equal(worker.stats().lost, 0);
  });

  it("counts an attempt whose outcome came after a cancel it did not hear of as lost, not completed", async () => {
    const { worker, running, release } = gatedWorker("wlost");
    const lost: string[] = [];
    const completions: string[] = [];
    worker.on("job:lost", (e) => lost.push(e.id)).on("job:complete", (e) => completions.push(e.id));
    await worker.ready;
    const job = await client.enqueue("gated", [], { queue: "wlost" });
    await running;
    // The cancel is stored without the notice that would stop the handler: it returns "ok" later.
    await cancelWithoutNotice(engine, job.id);
    release();
    await waitFor(() => worker.stats().lost === 1, { what: "the attempt counted as lost" });
    assert.equal(worker.stats().completed, 0);
    assert.deepEqual(lost, [job.id]);
    assert.deepEqual(completions, []);
    assert.equal((await client.get(job.id)).state, "cancelled");
  });

  it("retries failures per the retry policy and discards when exhausted", async () => {
    let calls = 0;
    const worker = track(
      createWorker({
        nats: h.nats.url,
        queues: ["wfail"],
        handleSignals: false,
        logger: silentLogger,
        handlers: {
          flaky: () => {
            calls++;
            throw new JobFailure("still broken", { code: "broken" });
          },
          fatal: () => {
            throw new JobFailure("never retry", { code: "fatal", retryable: false });
          },
        },
      }),
    );
    await worker.ready;
    const flaky = await client.enqueue("flaky", [], {
      queue: "wfail",
      retry: { maxAttempts: 2, initialIntervalMs: 100, jitter: false },
    });
    const fatal = await client.enqueue("fatal", [], { queue: "wfail" });
    const f1 = await client.waitFor(flaky.id);
    assert.equal(f1.state, "discarded");
    assert.equal(calls, 2);
    assert.equal(f1.attempt, 2);
    assert.deepEqual(
      f1.errors?.map((e) => e.code),
      ["broken", "broken"],
    );
    const f2 = await client.waitFor(fatal.id);
    assert.equal(f2.state, "discarded");
    assert.equal(f2.attempt, 1);
    await worker.close();
  });

  it("aborts a running handler when its job is cancelled", async () => {
    let aborted = false;
    let started!: () => void;
    const startedP = new Promise<void>((r) => (started = r));
    const worker = track(
      createWorker({
        nats: h.nats.url,
        queues: ["wcancel"],
        handleSignals: false,
        logger: silentLogger,
        handlers: {
          slow: (job) =>
            new Promise<void>((resolve) => {
              started();
              job.signal.addEventListener("abort", () => {
                aborted = true;
                resolve();
              });
            }),
        },
      }),
    );
    await worker.ready;
    const job = await client.enqueue("slow", [], { queue: "wcancel" });
    await startedP;
    // A handler starts before its start is stored (on the next turn of the worker's event loop).
    await waitFor(async () => (await client.get(job.id)).state === "active", { what: "the job active" });
    await client.cancel(job.id);
    await waitFor(() => aborted, { what: "the handler's abort signal" });
    assert.equal((await client.get(job.id)).state, "cancelled");
    await worker.close();
  });

  it("a result or a thrown value that cannot be stored fails that attempt; the worker keeps running", async () => {
    const rejections: unknown[] = [];
    const onRejection = (r: unknown) => rejections.push(r);
    process.on("unhandledRejection", onRejection);
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    const worker = track(
      createWorker({
        nats: h.nats.url,
        queues: ["poison-values"],
        concurrency: 4,
        handleSignals: false,
        logger: silentLogger,
        handlers: {
          bigint: () => 10n,
          circular: () => circular,
          "bad.json": () => ({
            toJSON() {
              throw new Error("no JSON here");
            },
          }),
          "null.proto": () => {
            // eslint-disable-next-line @typescript-eslint/only-throw-error -- what this test is about
            throw Object.create(null) as object;
          },
          "bad.string": () => {
            // eslint-disable-next-line @typescript-eslint/only-throw-error -- what this test is about
            throw {
              toString() {
                throw new Error("no string either");
              },
              get [Symbol.toStringTag]() {
                throw new Error("nor a tag");
              },
            };
          },
          "big.details": () => {
            throw new JobFailure("with odd details", { code: "odd", details: { n: 1n } });
          },
          fine: () => "still here",
        },
      }),
    );
    await worker.ready;
    try {
      const types = ["bigint", "circular", "bad.json", "null.proto", "bad.string", "big.details", "fine"];
      const jobs = await Promise.all(
        types.map((t) => client.enqueue(t, [], { queue: "poison-values", retry: { maxAttempts: 1 } })),
      );
      const done = await Promise.all(jobs.map((j) => client.waitFor(j.id, { timeoutMs: 10_000 })));
      const by = new Map(types.map((t, k) => [t, done[k]!]));
      for (const t of ["bigint", "circular", "bad.json"]) {
        assert.equal(by.get(t)!.state, "discarded", t);
        assert.equal(by.get(t)!.error?.code, "result_not_serializable", t);
        assert.match(by.get(t)!.error!.message, /cannot be stored as JSON/, t);
      }
      for (const t of ["null.proto", "bad.string"]) {
        assert.equal(by.get(t)!.state, "discarded", t);
        assert.equal(by.get(t)!.error?.code, "handler_error", t);
        assert.ok(by.get(t)!.error!.message.length > 0, t);
      }
      assert.equal(by.get("big.details")!.error?.code, "odd");
      assert.deepEqual(by.get("big.details")!.error?.details, { not_serializable: true });
      assert.equal(by.get("fine")!.state, "completed");
      assert.equal(by.get("fine")!.result, "still here");
      assert.deepEqual(rejections, [], "no unhandled rejection");
      assert.equal(worker.stats().running, 0);
    } finally {
      process.off("unhandledRejection", onRejection);
      await worker.close();
    }
  });

  it("a queue whose handlers hang cannot starve the worker's other queues", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let hanging = 0;
    const worker = track(
      createWorker({
        nats: h.nats.url,
        queues: ["stuck", "lively"],
        concurrency: 3,
        handleSignals: false,
        logger: silentLogger,
        shutdownTimeoutMs: 100,
        handlers: {
          hang: async () => {
            hanging++;
            await gate; // no timeout_ms: without a share it would hold every slot
          },
          quick: () => "done",
        },
      }),
    );
    await worker.ready;
    try {
      await Promise.all(Array.from({ length: 6 }, () => client.enqueue("hang", [], { queue: "stuck" })));
      await waitFor(() => hanging === 2, { what: "the stuck queue to fill its share (3 - 1 slots)" });
      const quick = await Promise.all(
        Array.from({ length: 5 }, (_, k) => client.enqueue("quick", [k], { queue: "lively" })),
      );
      const done = await Promise.all(quick.map((j) => client.waitFor(j.id, { timeoutMs: 10_000 })));
      assert.deepEqual(
        done.map((j) => j.state),
        Array(5).fill("completed"),
      );
      assert.equal(hanging, 2, "the stuck queue never got the other queue's slot");
    } finally {
      release();
      await worker.close();
    }
  });

  it("a worker without a job's handler hands it back unharmed; a worker with the handler runs it", async () => {
    const lacking = track(
      createWorker({
        nats: h.nats.url,
        queues: ["rolling"],
        handleSignals: false,
        logger: silentLogger,
        handlers: { "old.type": () => "old" },
      }),
    );
    await lacking.ready;
    let knowing: ReturnType<typeof createWorker> | undefined;
    try {
      const job = await client.enqueue("new.type", [1], { queue: "rolling" });
      const waiting = await waitFor(
        async () => {
          const j = await client.get(job.id);
          return j.unhandled !== undefined ? j : undefined;
        },
        { timeoutMs: 10_000, what: "the job to be handed back" },
      );
      assert.equal(waiting.attempt, 0, "no attempt used");
      assert.ok(waiting.state === "scheduled" || waiting.state === "available", waiting.state);
      assert.equal((waiting.unhandled as { worker_id: string }).worker_id, lacking.id);
      assert.equal(waiting.errors, undefined);
      // The new worker comes up (the rolling deploy finishes) and runs it.
      knowing = track(
        createWorker({
          nats: h.nats.url,
          queues: ["rolling"],
          handleSignals: false,
          logger: silentLogger,
          handlers: { "new.type": () => "new" },
        }),
      );
      await knowing.ready;
      const done = await client.waitFor(job.id, { timeoutMs: 15_000 });
      assert.equal(done.state, "completed");
      assert.equal(done.result, "new");
      assert.equal(done.attempt, 1);
      assert.equal(done.unhandled, undefined);
    } finally {
      await knowing?.close();
      await lacking.close();
    }
  });

  it("a job no worker has a handler for fails with unknown_job_type only after unhandledJobTimeoutMs", async () => {
    const lacking = track(
      createWorker({
        nats: h.nats.url,
        queues: ["orphans"],
        unhandledJobTimeoutMs: 2500,
        handleSignals: false,
        logger: silentLogger,
        handlers: { other: () => undefined },
      }),
    );
    await lacking.ready;
    try {
      const t0 = Date.now();
      const job = await client.enqueue("nobody.handles", [], { queue: "orphans" });
      const done = await client.waitFor(job.id, { timeoutMs: 20_000 });
      assert.equal(done.state, "discarded");
      assert.equal(done.error?.code, "unknown_job_type");
      assert.match(done.error.message, /no worker had a handler/);
      assert.ok(Date.now() - t0 >= 2500, "not before the timeout");
    } finally {
      await lacking.close();
    }
  });

  it("obeys the same rules as HTTP fetch: a job taken by a worker is not fetchable", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let started = false;
    const worker = track(
      createWorker({
        nats: h.nats.url,
        queues: ["mixed"],
        handleSignals: false,
        logger: silentLogger,
        handlers: {
          hold: async () => {
            started = true;
            await gate;
            return "ok";
          },
        },
      }),
    );
    await worker.ready;
    const job = await client.enqueue("hold", [], { queue: "mixed" });
    await waitFor(() => started);
    assert.deepEqual(await engine.fetch({ queues: ["mixed"], count: 1, workerId: "http" }), []);
    release();
    const done = await client.waitFor(job.id);
    assert.equal(done.state, "completed");
    await worker.close();
  });

  it("hands long-waiting jobs to idle workers instead of holding them", async () => {
    const ranBy = new Map<string, string>();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const mk = (name: string) =>
      track(
        createWorker({
          nats: h.nats.url,
          queues: ["spread"],
          concurrency: 1,
          rebalanceAfterMs: 100,
          workerId: name,
          handleSignals: false,
          logger: silentLogger,
          handlers: {
            long: async (job) => {
              ranBy.set(job.id, name);
              await gate;
            },
          },
        }),
      );
    const a = mk("wa");
    await a.ready;
    // One atomic batch = one segment: worker A takes all four, can run only one at a time.
    const jobs = await client.enqueueMany(
      Array.from({ length: 4 }, () => ({ type: "long", args: [], options: { queue: "spread" } })),
    );
    await waitFor(() => a.stats().running === 1);
    const b = mk("wb");
    await b.ready;
    await waitFor(() => [...ranBy.values()].includes("wb"), {
      what: "worker B to get a job worker A handed back",
    });
    release();
    await Promise.all(jobs.map((j) => client.waitFor(j.id)));
    assert.equal(ranBy.size, 4);
    await Promise.all([a.close(), b.close()]);
  });

  it("stops when its AbortSignal is aborted", async () => {
    const ac = new AbortController();
    let ran = 0;
    const worker = track(
      createWorker({
        nats: h.nats.url,
        queues: ["sig"],
        signal: ac.signal,
        handleSignals: false,
        logger: silentLogger,
        handlers: { t: () => void ran++ },
      }),
    );
    await worker.ready;
    const first = await client.enqueue("t", [], { queue: "sig" });
    await client.waitFor(first.id);
    ac.abort();
    await worker.close(); // resolves once the abort-triggered drain has finished
    const second = await client.enqueue("t", [], { queue: "sig" });
    const quiet = await engine.fetch({ queues: ["sig"], count: 1, workerId: "probe" });
    assert.equal(quiet[0]?.id, second.id, "the stopped worker no longer takes jobs");
    assert.equal(ran, 1);
    await engine.ack(second.id);
  });

  it("drains on close: running jobs finish, nothing is left active", async () => {
    let finished = 0;
    const worker = track(
      createWorker({
        nats: h.nats.url,
        queues: ["drain"],
        concurrency: 4,
        handleSignals: false,
        logger: silentLogger,
        handlers: {
          work: async () => {
            await new Promise((r) => setTimeout(r, 50));
            finished++;
          },
        },
      }),
    );
    await worker.ready;
    const jobs = await client.enqueueMany(
      Array.from({ length: 12 }, () => ({ type: "work", args: [], options: { queue: "drain" } })),
    );
    await waitFor(() => worker.stats().running > 0);
    await worker.close();
    const states = await Promise.all(jobs.map(async (j) => (await client.get(j.id)).state));
    assert.ok(!states.includes("active"), `no job stays active after close: ${states.join(",")}`);
    const completedCount = states.filter((s) => s === "completed").length;
    assert.equal(completedCount, finished);
    // The rest went back to the queue and another worker finishes them.
    const w2 = track(
      createWorker({
        nats: h.nats.url,
        queues: ["drain"],
        handleSignals: false,
        logger: silentLogger,
        handlers: { work: () => undefined },
      }),
    );
    await Promise.all(jobs.map((j) => client.waitFor(j.id)));
    await w2.close();
  });
});
