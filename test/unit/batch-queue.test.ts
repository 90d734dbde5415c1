/** The batching queue (store/infra/batch-queue.ts) that the exclusive-key hand-over runs on. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { createBatchQueue } from "../../src/store/infra/batch-queue.js";

/** A run function whose batches stay open until released, recording what each batch held. */
function gatedRuns() {
  const batches: number[][] = [];
  const gates: Array<{ open: () => void; fail: (e: Error) => void }> = [];
  let running = 0;
  let maxRunning = 0;
  const started: Array<() => void> = [];
  const run = (items: number[]) =>
    new Promise<void>((resolve, reject) => {
      batches.push(items);
      running++;
      maxRunning = Math.max(maxRunning, running);
      const end = () => running--;
      gates.push({
        open: () => {
          end();
          resolve();
        },
        fail: (e) => {
          end();
          reject(e);
        },
      });
      started.splice(0).forEach((f) => f());
    });
  /** Resolves once `n` batches started; rejects after `ms`. */
  const batchesStarted = (n: number, ms = 2000) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${batches.length} batches started, wanted ${n}`)), ms);
      const check = () => {
        if (batches.length >= n) {
          clearTimeout(timer);
          resolve();
        } else started.push(check);
      };
      check();
    });
  return { run, batches, gates, batchesStarted, maxRunning: () => maxRunning };
}

describe("createBatchQueue", () => {
  it("runs one batch at a time and puts what arrives meanwhile into the next one", async () => {
    const g = gatedRuns();
    const q = createBatchQueue(g.run, { stallMs: 60_000 });
    const first = q.add([1]);
    await g.batchesStarted(1);
    const later = [q.add([2]), q.add([3, 4])];
    assert.equal(g.batches.length, 1, "nothing else starts while the first batch runs");
    g.gates[0]!.open();
    await first;
    await g.batchesStarted(2);
    assert.deepEqual(g.batches, [[1], [2, 3, 4]]);
    g.gates[1]!.open();
    await Promise.all(later);
  });

  it("starts another batch beside one that runs longer than stallMs", async () => {
    const g = gatedRuns();
    const q = createBatchQueue(g.run, { stallMs: 20 });
    const slow = q.add([1]);
    await g.batchesStarted(1);
    const other = q.add([2]);
    await g.batchesStarted(2);
    assert.deepEqual(g.batches, [[1], [2]]);
    g.gates[1]!.open();
    await other; // done while the slow batch still runs
    g.gates[0]!.open();
    await slow;
  });

  it("never runs more than `parallel` batches at once", async () => {
    const g = gatedRuns();
    const q = createBatchQueue(g.run, { parallel: 2, stallMs: 0 });
    const adds = [1, 2, 3, 4, 5].map((n) => q.add([n]));
    await g.batchesStarted(2);
    assert.equal(g.batches.length, 2);
    g.gates[0]!.open();
    await g.batchesStarted(3);
    // Items 3-5 were waiting together: they went as one batch.
    assert.deepEqual(g.batches[2], [3, 4, 5]);
    g.gates[1]!.open();
    g.gates[2]!.open();
    await Promise.all(adds);
    assert.equal(g.maxRunning(), 2);
  });

  it("rejects the adds of a failed batch and goes on with the next", async () => {
    const g = gatedRuns();
    const q = createBatchQueue(g.run, { stallMs: 60_000 });
    const failing = q.add([1]);
    await g.batchesStarted(1);
    const next = q.add([2]);
    g.gates[0]!.fail(new Error("boom"));
    await assert.rejects(failing, /boom/);
    await g.batchesStarted(2);
    g.gates[1]!.open();
    await next;
    assert.deepEqual(g.batches, [[1], [2]]);
  });

  it("adds of nothing resolve at once without a batch", async () => {
    const g = gatedRuns();
    await createBatchQueue(g.run).add([]);
    assert.equal(g.batches.length, 0);
  });
});
