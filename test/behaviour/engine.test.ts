import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { isConflict, isNotFound } from "../../src/core/errors.js";
import { uuidv7Pattern } from "../../src/core/ids.js";
import { useEngine } from "../harness/engine.js";
import { useNats, waitFor } from "../harness/nats.js";

const h = useNats();

describe("engine (OJS operations over JetStream)", () => {
  const used = useEngine(h);

  it("enqueues, fetches, acks and reads back a job", async () => {
    const job = await used.engine.enqueue({ type: "email.send", args: ["a@b.c"], options: { queue: "e1" } });
    assert.match(job.id, uuidv7Pattern);
    assert.equal(job.state, "available");
    assert.equal(job.attempt, 0);
    assert.equal((await used.engine.get(job.id)).state, "available");

    const [fetched, ...rest] = await used.engine.fetch({ queues: ["e1"], count: 1, workerId: "w1" });
    assert.equal(rest.length, 0);
    assert.equal(fetched?.id, job.id);
    assert.equal(fetched?.state, "active");
    assert.equal(fetched?.attempt, 1);
    assert.equal((await used.engine.get(job.id)).state, "active");
    assert.deepEqual(await used.engine.fetch({ queues: ["e1"], count: 1, workerId: "w2" }), []);

    const acked = await used.engine.ack(job.id, { ok: true });
    assert.equal(acked.state, "completed");
    const done = await used.engine.get(job.id);
    assert.equal(done.state, "completed");
    assert.deepEqual(done.result, { ok: true });
    assert.ok(typeof done.completed_at === "string");
  });

  it("fetches FIFO and gives each job to one fetcher only", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++)
      ids.push((await used.engine.enqueue({ type: "t.fifo", args: [i], options: { queue: "fifo" } })).id);
    const results = await Promise.all(
      [1, 2, 3, 4].map((w) => used.engine.fetch({ queues: ["fifo"], count: 1, workerId: `w${w}` })),
    );
    const got = results
      .flat()
      .map((j) => j.id)
      .sort();
    assert.deepEqual(got, [...ids].sort(), "every job fetched exactly once");
  });

  it("retries a failed job after its backoff and counts attempts", async () => {
    const job = await used.engine.enqueue({
      type: "t.retry",
      args: [],
      options: { queue: "retry", retry: { max_attempts: 3, initial_interval: "PT0.3S", jitter: false } },
    });
    await used.engine.fetch({ queues: ["retry"], count: 1, workerId: "w" });
    const r = await used.engine.nack(job.id, { error: { code: "boom", message: "failed once" } });
    assert.equal(r.state, "retryable");
    assert.equal(r.retry_delay_ms, 300);
    assert.equal((await used.engine.get(job.id)).state, "retryable");
    const [again] = await waitFor(
      async () => {
        const got = await used.engine.fetch({ queues: ["retry"], count: 1, workerId: "w" });
        return got.length > 0 ? got : undefined;
      },
      { what: "the retried job" },
    );
    assert.equal(again?.id, job.id);
    assert.equal(again?.attempt, 2);
    const errors = again?.errors as Array<{ code: string }>;
    assert.equal(errors[0]?.code, "boom");
    await used.engine.ack(job.id);
    const done = await used.engine.get(job.id);
    assert.equal(done.state, "completed");
    assert.equal(done.error, undefined);
  });

  it("discards when attempts are exhausted", async () => {
    const job = await used.engine.enqueue({
      type: "t.x",
      args: [],
      options: { queue: "disc", retry: { max_attempts: 1 } },
    });
    await used.engine.fetch({ queues: ["disc"], count: 1, workerId: "w" });
    const r = await used.engine.nack(job.id, { error: { message: "nope" } });
    assert.equal(r.state, "discarded");
    const view = await used.engine.get(job.id);
    assert.equal(view.state, "discarded");
    assert.equal(view.attempt, 1);
  });

  it("cancels available and active jobs, refuses terminal ones", async () => {
    const a = await used.engine.enqueue({ type: "t.c", args: [], options: { queue: "cancel" } });
    assert.equal((await used.engine.cancel(a.id)).state, "cancelled");
    assert.deepEqual(await used.engine.fetch({ queues: ["cancel"], count: 1, workerId: "w" }), []);
    const b = await used.engine.enqueue({ type: "t.c", args: [], options: { queue: "cancel" } });
    await used.engine.fetch({ queues: ["cancel"], count: 1, workerId: "w" });
    assert.equal((await used.engine.cancel(b.id)).state, "cancelled");
    await assert.rejects(used.engine.ack(b.id), isConflict);
    await assert.rejects(used.engine.cancel(b.id), isConflict);
  });

  it("keeps scheduled jobs out of fetch until due", async () => {
    const job = await used.engine.enqueue({
      type: "t.s",
      args: [],
      options: { queue: "sched", scheduled_at: "+PT0.5S" },
    });
    assert.equal(job.state, "scheduled");
    assert.deepEqual(await used.engine.fetch({ queues: ["sched"], count: 1, workerId: "w" }), []);
    await assert.rejects(used.engine.ack(job.id), isConflict);
    const [got] = await waitFor(
      async () => {
        const r = await used.engine.fetch({ queues: ["sched"], count: 1, workerId: "w" });
        return r.length > 0 ? r : undefined;
      },
      { what: "the scheduled job" },
    );
    assert.equal(got?.id, job.id);
  });

  it("honours client-chosen ids and rejects duplicates", async () => {
    const id = "019539a4-aaaa-7000-8000-111111111111";
    const job = await used.engine.enqueue({ id, type: "t.id", args: [], options: { queue: "ids" } });
    assert.equal(job.id, id);
    assert.equal((await used.engine.get(id)).type, "t.id");
    await assert.rejects(used.engine.enqueue({ id, type: "t.id", args: [] }), isConflict);
    await assert.rejects(used.engine.get("019539a4-0000-7000-8000-000000000000"), isNotFound);
  });

  it("records events", async () => {
    const job = await used.engine.enqueue({ type: "t.ev", args: [], options: { queue: "ev" } });
    await used.engine.fetch({ queues: ["ev"], count: 1, workerId: "w" });
    await used.engine.ack(job.id, 1);
    const events = await waitFor(async () => {
      const e = await used.engine.events({ queues: ["ev"], types: ["job.completed"], limit: 10 });
      return e.length > 0 ? e : undefined;
    });
    assert.equal(events[0]?.data.job_id, job.id);
    assert.equal(typeof events[0]?.data.duration_ms, "number");
  });
});
