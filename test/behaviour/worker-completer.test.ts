/**
 * The worker's completer against a real store: an op appended after someone else wrote to the job's
 * journal (here a cancel) is kept only if it still applies. A dropped outcome is settled as not
 * stored (the worker counts it as lost, not completed), and a running job whose start is dropped
 * has its handler stopped: a cancel that came before the start was stored sends no notice.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { silentLogger } from "../../src/core/logger.js";
import type { JournalOp } from "../../src/store/journal/journal-ops.js";
import { createCompleter } from "../../src/worker/completer.js";
import type { CompleterHooks } from "../../src/worker/completer.js";
import type { Held, RunnerDeps } from "../../src/worker/runner-state.js";
import { newHeld } from "../../src/worker/runner-state.js";
import { useEngine } from "../harness/engine.js";
import { useNats } from "../harness/nats.js";

const h = useNats();
const WORKER = "w-completer-test";

describe("worker completer: ops written after someone else's", () => {
  const used = useEngine(h);

  /**
   * A completer of worker WORKER; `stopped` collects the ids whose handlers it stops, `settled` the
   * outcome ops it settles (stored or not).
   */
  function completer(stopped: string[], settled: Array<[JournalOp, boolean]> = []) {
    const svc = used.engine.svc;
    // Only what the completer reads; the rest of a runner is not needed to append ops.
    const d = { svc, ctx: svc.ctx, locator: svc.locator, workerId: WORKER, logger: silentLogger };
    const hooks = {
      holdings: { maybeRelease: () => undefined },
      slots: { finished: () => undefined, startWaiting: () => undefined },
      run: () => undefined,
      stop: (id: string) => stopped.push(id),
      settled: (_h: Held, op: JournalOp, stored: boolean) => settled.push([op, stored]),
    } as unknown as CompleterHooks;
    return createCompleter(d as unknown as RunnerDeps, hooks);
  }

  /** A job of `queue` claimed by WORKER (attempt 1), held as a segment runner holds it. */
  async function claimed(queue: string): Promise<{ id: string; held: Held; idx: number }> {
    const job = await used.engine.enqueue({ type: "t.completer", args: [], options: { queue } });
    const loc = await used.engine.svc.locator.locate(job.id);
    assert.ok(loc);
    const held = newHeld(loc.at, "no-ack");
    held.journal = loc.journal;
    held.pending.push({ op: "claim", i: loc.idx, a: 1, w: WORKER, at: Date.now() });
    await completer([]).flush(held);
    assert.equal(held.journal.slots[loc.idx]?.claim?.w, WORKER);
    return { id: job.id, held, idx: loc.idx };
  }

  it("stores an outcome that applies and settles it as stored", async () => {
    const { id, held, idx } = await claimed("cq-stored");
    const settled: Array<[JournalOp, boolean]> = [];
    const done: JournalOp = { op: "done", i: idx, a: 1, at: Date.now(), res: "ok" };
    held.pending.push(done);
    await completer([], settled).flush(held);
    assert.deepEqual(settled, [[done, true]]);
    assert.equal((await used.engine.get(id)).state, "completed");
  });

  it("drops an outcome written after a cancel and settles it as not stored", async () => {
    const { id, held, idx } = await claimed("cq-dropped");
    await used.engine.cancel(id); // the held journal state is now stale
    const settled: Array<[JournalOp, boolean]> = [];
    const done: JournalOp = { op: "done", i: idx, a: 1, at: Date.now(), res: "late" };
    held.pending.push(done);
    await completer([], settled).flush(held);
    assert.deepEqual(settled, [[done, false]]);
    const view = await used.engine.get(id);
    assert.equal(view.state, "cancelled");
    assert.equal(view.result, undefined);
  });

  it("stops the handler of a running job whose start comes after a cancel", async () => {
    const { id, held, idx } = await claimed("cq-start");
    await used.engine.cancel(id);
    const stopped: string[] = [];
    held.running.add(idx);
    held.pending.push({ op: "start", i: idx, a: 1, at: Date.now() });
    await completer(stopped).flush(held);
    assert.deepEqual(stopped, [id]);
    assert.equal((await used.engine.get(id)).state, "cancelled");
  });

  it("does not stop a job whose start is stored", async () => {
    const { id, held, idx } = await claimed("cq-started");
    const stopped: string[] = [];
    held.running.add(idx);
    held.pending.push({ op: "start", i: idx, a: 1, at: Date.now() });
    await completer(stopped).flush(held);
    assert.deepEqual(stopped, []);
    assert.equal((await used.engine.get(id)).state, "active");
  });
});
