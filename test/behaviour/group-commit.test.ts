/**
 * Group commit of single-job reports (store/journal/group-commit.ts): an HTTP worker acknowledges the ten jobs
 * of one fetch at once; those share a segment, so their journal appends go out together instead of
 * racing each other's compare-and-set. Every report still gets its own answer: a duplicate ack, an ack
 * from a worker that does not hold the job and a nack in the same burst are each decided on their own.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { ErrorCode, isJetjobError } from "../../src/core/errors.js";
import type { Services } from "../../src/store/infra/services.js";
import { ackJob } from "../../src/store/jobs/operations.js";
import { useEngine } from "../harness/engine.js";
import { useNats } from "../harness/nats.js";

const h = useNats();

describe("group commit of acks and nacks", () => {
  const used = useEngine(h);

  it("a burst of reports on one segment's jobs: fewer appends than reports, each answered on its own", async () => {
    const jobs = await used.engine.enqueueBatch(
      Array.from({ length: 12 }, (_, i) => ({
        type: "gc.t",
        args: [i],
        options: { queue: "gc", retry: { max_attempts: 1 } },
      })),
    );
    const fetched = await used.engine.fetch({ queues: ["gc"], count: 12, workerId: "w1" });
    assert.equal(fetched.length, 12);
    // Count the journal appends the burst makes (every append is a message on a journal subject).
    const journals = used.nc.subscribe(used.engine.ctx.subjects.journal(1, 0).replace(/\.1\.0$/, ".>"));
    let appends = 0;
    void (async () => {
      for await (const _ of journals) appends++;
    })();
    const [a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11] = fetched.map((j) => j.id);
    const settled = await Promise.allSettled([
      ...[a0, a1, a2, a3, a4, a5, a6, a7].map((id, i) => used.engine.ack(id!, { n: i }, "w1")),
      used.engine.ack(a0!, { n: "again" }, "w1"), // the same job twice in one burst
      used.engine.ack(a8!, { n: 8 }, "someone-else"), // not the holder
      used.engine.nack(a9!, { error: { code: "boom", message: "no" }, workerId: "w1" }),
      used.engine.ack(a10!, undefined, "w1"),
    ]);
    await used.nc.flush();
    journals.unsubscribe();
    const ok = settled.filter((s) => s.status === "fulfilled").length;
    assert.equal(ok, 10, JSON.stringify(settled.map((s) => s.status)));
    const [dup, notHolder] = [settled[8]!, settled[9]!];
    assert.equal(dup.status, "rejected");
    assert.equal(notHolder.status, "rejected");
    const reason: unknown = notHolder.status === "rejected" ? notHolder.reason : undefined;
    assert.ok(isJetjobError(reason) && reason.code === ErrorCode.LeaseLost, String(reason));
    assert.ok(appends < 10, `${appends} journal appends for 10 recorded reports`);
    for (let i = 0; i < 8; i++) {
      const j = await used.engine.get(fetched[i]!.id);
      assert.equal(j.state, "completed");
      assert.deepEqual(j.result, { n: i });
    }
    assert.equal((await used.engine.get(a8!)).state, "active");
    assert.equal((await used.engine.get(a9!)).state, "discarded");
    assert.equal((await used.engine.get(a10!)).state, "completed");
    assert.equal((await used.engine.get(a11!)).state, "active");
    assert.equal(jobs.length, 12);
  });

  it("reports racing another writer on the same journal are decided again, none lost", async () => {
    await used.engine.enqueueBatch(
      Array.from({ length: 20 }, (_, i) => ({ type: "gc.r", args: [i], options: { queue: "gc-race" } })),
    );
    const fetched = await used.engine.fetch({ queues: ["gc-race"], count: 20, workerId: "w2" });
    assert.equal(fetched.length, 20);
    // Heartbeats append to the same journals through the one-job path while the acks go grouped.
    const acks = fetched.map((j, i) => used.engine.ack(j.id, { i }, "w2"));
    const beats = fetched.map((j) => used.engine.heartbeat([j.id], 60_000, "w2").catch(() => undefined));
    await Promise.all([...acks, ...beats]);
    for (const [i, j] of fetched.entries()) {
      const got = await used.engine.get(j.id);
      assert.equal(got.state, "completed");
      assert.deepEqual(got.result, { i });
    }
  });

  it("a refusal decided on a shared read that predates the claim is confirmed on a fresh read", async () => {
    // Reports share segment reads in flight. A read that started before a fetch claimed the job shows
    // it unclaimed; the holder's ack decided on it was refused (lease lost) with nothing appended for
    // a compare-and-set to catch (2 of 2 runs of the http benchmark's end-to-end load).
    const [job] = await used.engine.enqueueBatch([
      { type: "gc.f", args: [], options: { queue: "gc-fresh" } },
    ]);
    const stale = await used.engine.svc.locator.locate(job!.id);
    assert.ok(stale && !stale.slots[stale.idx]!.claim);
    const [fetched] = await used.engine.fetch({ queues: ["gc-fresh"], count: 1, workerId: "w1" });
    assert.equal(fetched?.id, job!.id);
    const real = used.engine.svc.locator;
    // A shared read (memo given) answers the state from before the claim, as one in flight since then would.
    const svc: Services = {
      ...used.engine.svc,
      locator: { ...real, locate: (id, memo) => (memo ? Promise.resolve(stale) : real.locate(id)) },
    };
    await ackJob(svc, job!.id, { ok: 1 }, "w1");
    const got = await used.engine.get(job!.id);
    assert.equal(got.state, "completed");
    assert.deepEqual(got.result, { ok: 1 });
  });
  it("a report whose shared read keeps predating an append is decided again on a read of its own", async () => {
    // Under load (40,000 jobs fetched, then acked 80 at a time through the HTTP door) reads shared by
    // reports were issued before the group's own last append and lost the compare-and-set again and
    // again, until the ack was refused as "changing too fast" (1 of 2 runs).
    const jobs = await used.engine.enqueueBatch(
      [0, 1].map((i) => ({ type: "gc.s", args: [i], options: { queue: "gc-stale" } })),
    );
    const fetched = await used.engine.fetch({ queues: ["gc-stale"], count: 2, workerId: "w1" });
    assert.equal(fetched.length, 2);
    const stale = await used.engine.svc.locator.locate(jobs[0]!.id);
    assert.ok(stale?.slots[stale.idx]!.claim);
    // Another report on the segment appends after that read.
    await used.engine.ack(jobs[1]!.id, undefined, "w1");
    const real = used.engine.svc.locator;
    // Every shared read answers the state from before that append.
    const svc: Services = {
      ...used.engine.svc,
      locator: { ...real, locate: (id, memo) => (memo ? Promise.resolve(stale) : real.locate(id)) },
    };
    await ackJob(svc, jobs[0]!.id, { ok: 0 }, "w1");
    const got = await used.engine.get(jobs[0]!.id);
    assert.equal(got.state, "completed");
    assert.deepEqual(got.result, { ok: 0 });
  });
});
