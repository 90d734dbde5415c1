/**
 * Moved copies (store/segments/validate.ts): a job moved to another segment is published there before
 * the pointer to it is written, so a copy whose pointer never names it must never run. A NATS-direct
 * worker claims such a copy at once and checks its pointer while the claim is stored
 * (claim-step.ts `deferChecks`); these cases hold it to running a copy only once its pointer names it.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, afterEach, before, describe, it } from "node:test";

import type { NatsConnection } from "@nats-io/nats-core";

import { Store } from "../../src/core/ids.js";
import { silentLogger } from "../../src/core/logger.js";
import type { Engine } from "../../src/store/engine.js";
import { createEngine } from "../../src/store/engine.js";
import type { JobAt } from "../../src/store/jobs/locator.js";
import type { Segment, SegmentAt } from "../../src/store/segments/segment.js";
import { encodeSegment, jobIdAt, jobRef, refKey } from "../../src/store/segments/segment.js";
import { POINTER_GRACE_MS } from "../../src/store/segments/validate.js";
import { announceMoves } from "../../src/store/segments/local-moves.js";
import type { Worker } from "../../src/worker/index.js";
import { createWorker } from "../../src/worker/index.js";
import { useNats, waitFor } from "../harness/nats.js";

const h = useNats();

describe("moved copies: a copy runs only once its pointer names it", () => {
  let nc: NatsConnection;
  let engine: Engine;
  before(async () => {
    nc = await h.nats.connect();
    engine = await createEngine(nc);
  });
  after(async () => {
    await engine.close();
    await nc.close();
  });
  const open = new Set<Worker>();
  afterEach(async () => {
    for (const w of open) await w.close();
    open.clear();
  });

  /** Where the job is stored now. */
  async function locate(id: string): Promise<JobAt> {
    const loc = await engine.svc.locator.locate(id);
    assert.ok(loc, `job ${id} is stored`);
    return loc;
  }

  /** Publishes a copy of the job at `j` into its queue's lane, as a mover would, without its pointer. */
  async function publishCopy(j: JobAt, o: { ageMs: number; announced?: boolean }): Promise<SegmentAt> {
    const spec = j.at.seg.jobs[j.idx]!;
    const seg: Segment = {
      v: 1,
      ts: Date.now() - o.ageMs,
      r: 0,
      q: j.at.seg.q,
      p: j.at.seg.p,
      jobs: [{ ...spec, id: jobIdAt(j.at, j.idx), home: jobRef(j.at.store, j.at.seq, j.idx) }],
    };
    if (o.announced === true) seg.an = 1;
    const ctx = engine.ctx;
    await ctx.queues.ensureLane(seg.q, seg.p);
    const ack = await ctx.publisher.publish(ctx.subjects.lane(seg.q, seg.p), encodeSegment(seg), {
      msgId: randomUUID(),
    });
    return { store: Store.Queue, seq: ack.seq, seg };
  }

  /** The copy's only slot, as its journal says now. */
  async function slotOf(copy: SegmentAt) {
    const state = await engine.svc.locator.readAt(copy.store, copy.seq, 0);
    return state?.slots[0];
  }

  /** A worker of `queue` that records the jobs it runs; `gate` may hold a job's handler up. */
  function startWorker(queue: string, runs: string[], gate?: (id: string) => Promise<void>): Worker {
    const w = createWorker({
      nats: nc,
      queues: [queue],
      concurrency: 4,
      logger: silentLogger,
      handlers: {
        t: async (job) => {
          runs.push(job.id);
          await gate?.(job.id);
          return { ok: true };
        },
      },
    });
    open.add(w);
    return w;
  }

  it("an orphan copy (its pointer never written) is claimed, then expired as void; the job runs once, where it lives", async () => {
    const queue = "mc-orphan";
    const job = await engine.enqueue({ type: "t", args: [], options: { queue } });
    // Older than the grace a copy has for its pointer: its check says orphan at once.
    const copy = await publishCopy(await locate(job.id), { ageMs: POINTER_GRACE_MS + 5000 });
    const runs: string[] = [];
    startWorker(queue, runs);

    const voided = await waitFor(
      async () => {
        const s = await slotOf(copy);
        return s?.outcome?.kind === "expire" ? s : undefined;
      },
      { what: "the orphan copy's claim expired" },
    );
    assert.equal(voided.lastAttempt, 1, "the copy was claimed before its check ended");
    await waitFor(async () => (await engine.get(job.id)).state === "completed", { what: "the job done" });
    assert.deepEqual(runs, [job.id], "the job ran once: the original, never the orphan");
    const view = await engine.get(job.id);
    assert.equal(view.state, "completed", "the orphan's expiry is no outcome of the job");
    const events = await engine.events({ jobId: job.id, limit: 50 });
    assert.ok(
      !events.some((e) => e.type.includes("expired")),
      `no expired event for the job: ${events.map((e) => e.type).join(", ")}`,
    );
  });

  it("an orphan copy of a key's holder does not give the key up while the holder runs", async () => {
    const queue = "mc-key";
    const opts = { queue, exclusive_key: "K" };
    const a = await engine.enqueue({ type: "t", args: [], options: opts });
    const b = await engine.enqueue({ type: "t", args: [], options: opts });
    const runs: string[] = [];
    let finishA!: () => void;
    const aDone = new Promise<void>((r) => (finishA = r));
    startWorker(queue, runs, (id) => (id === a.id ? aDone : Promise.resolve()));
    await waitFor(() => runs.includes(a.id), { what: "the key's first job to run" });
    const copy = await publishCopy(await locate(a.id), { ageMs: POINTER_GRACE_MS + 5000 });
    await waitFor(async () => (await slotOf(copy))?.outcome?.kind === "expire", {
      what: "the orphan copy's claim expired",
    });
    // Were the orphan's expiry taken for the holder's outcome, the key would go to b at once.
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(runs, [a.id], "b waits for its key while a runs");
    assert.notEqual((await engine.get(b.id)).state, "active");
    finishA();
    await waitFor(async () => (await engine.get(b.id)).state === "completed", { what: "b done after a" });
    assert.deepEqual(runs, [a.id, b.id]);
  });

  /** The job scheduled far ahead (only a copy can run), and where it is stored. */
  async function scheduledFarAhead(queue: string): Promise<{ id: string; original: JobAt }> {
    const job = await engine.enqueue({
      type: "t",
      args: [],
      options: { queue, scheduled_at: new Date(Date.now() + 3_600_000).toISOString() },
    });
    return { id: job.id, original: await locate(job.id) };
  }

  /** The mover's append: the original moved on, to the copy. */
  async function pointTo(original: JobAt, copy: SegmentAt): Promise<void> {
    const { store, seq } = original.at;
    const journal = await engine.ctx.journals.read(store, seq, original.at.seg.jobs.length);
    const op = {
      op: "move" as const,
      i: original.idx,
      at: Date.now(),
      to: refKey(Store.Queue, copy.seq),
      ti: 0,
    };
    await engine.ctx.journals.append(store, seq, [op], journal);
  }

  /**
   * A job scheduled far ahead, a copy of it published into its lane (as a mover would, without its
   * pointer), and a worker that has claimed that copy.
   */
  async function claimedCopy(queue: string, o: { announced?: boolean } = {}) {
    const { id, original } = await scheduledFarAhead(queue);
    assert.equal(original.at.store, Store.Delay);
    const runs: string[] = [];
    startWorker(queue, runs);
    const copy = await publishCopy(original, { ageMs: 0, ...o });
    await waitFor(async () => ((await slotOf(copy))?.lastAttempt ?? 0) > 0, { what: "the copy claimed" });
    return { id, original, copy, runs };
  }

  it("a copy claimed before its pointer is written waits, and runs once the pointer names it", async () => {
    const { id, original, copy, runs } = await claimedCopy("mc-late");
    // Its check keeps looking (every POINTER_RETRY_MS) while the pointer is missing: it must not run.
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(runs, [], "no run before the pointer names the copy");

    await pointTo(original, copy);
    await waitFor(() => runs.length > 0, { what: "the copy to run" });
    await waitFor(async () => (await engine.get(id)).state === "completed", { what: "the job done" });
    assert.deepEqual(runs, [id]);
    assert.equal((await slotOf(copy))?.outcome?.kind, "done");
  });

  it("an announced copy runs on its mover's notice, which stands for the pointer", async () => {
    const { id, copy, runs } = await claimedCopy("mc-notice", { announced: true });
    // The mover announces only pointers it stored; here the notice alone, to see that it is used.
    announceMoves(engine.ctx, Store.Queue, copy.seq, new Set([0]));
    await waitFor(() => runs.length > 0, { what: "the copy to run on its notice" });
    assert.deepEqual(runs, [id]);
  });

  it("an announced copy whose notice never comes is checked by its pointer, as any other", async () => {
    const { id, original, copy, runs } = await claimedCopy("mc-no-notice", { announced: true });
    // A notice for another slot says nothing about this one.
    announceMoves(engine.ctx, Store.Queue, copy.seq, new Set([1]));
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(runs, [], "no run without its pointer or its notice");
    await pointTo(original, copy);
    await waitFor(() => runs.length > 0, { what: "the copy to run once its pointer is stored" });
    assert.deepEqual(runs, [id]);
  });
});
