/**
 * The bounded queue behind every SSE stream (server/sse-queue.ts): a client that stops reading is
 * dropped once it is `maxQueued` events behind, with one `overflow` event, and its source detached.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import type { SSEStreamingApi } from "hono/streaming";

import { createSseQueue } from "../../src/server/sse-queue.js";

/** A stream whose client reads nothing until `release()`; records what was written. */
function stalledStream() {
  const written: string[] = [];
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let aborted = false;
  const onAbort: Array<() => void> = [];
  const s = {
    get aborted() {
      return aborted;
    },
    onAbort: (cb: () => void) => onAbort.push(cb),
    abort: () => {
      aborted = true;
      for (const cb of onAbort) cb();
      release();
    },
    writeSSE: async (m: { event?: string }) => {
      await gate;
      written.push(m.event ?? "");
    },
    write: () => Promise.resolve(),
  };
  return { stream: s as unknown as SSEStreamingApi, written, release, isAborted: () => aborted };
}

describe("SSE queue bound", () => {
  it("drops a stalled client after maxQueued events, with one overflow event, and detaches its source", async () => {
    const { stream, written, release } = stalledStream();
    let detached = 0;
    const q = createSseQueue({ maxQueued: 5, overflowGraceMs: 60_000, onOverflow: () => detached++ });
    const pumping = q.pump(stream);
    for (let k = 0; k < 50; k++) q.push("job.completed", { k });
    assert.equal(q.overflowed, true);
    assert.equal(q.ended, true);
    assert.equal(detached, 1, "the source is detached once");
    release();
    await pumping;
    // The queued events were dropped: the client gets only the overflow event.
    assert.deepEqual(written, ["overflow"]);
  });

  it("closes the stream when the dropped client does not read within the grace period", async () => {
    const { stream, isAborted } = stalledStream();
    const q = createSseQueue({ maxQueued: 2, overflowGraceMs: 20 });
    const pumping = q.pump(stream);
    for (let k = 0; k < 10; k++) q.push("e", k);
    const keepAlive = setInterval(() => undefined, 1000); // the grace timer alone does not hold the process
    await pumping;
    clearInterval(keepAlive);
    assert.equal(isAborted(), true);
  });

  it("a reading client below the bound gets every event in order", async () => {
    const { stream, written, release } = stalledStream();
    release();
    const q = createSseQueue({ maxQueued: 100 });
    const pumping = q.pump(stream);
    for (let k = 0; k < 100; k++) q.push(`e${k}`, k);
    q.end();
    await pumping;
    assert.equal(q.overflowed, false);
    assert.deepEqual(
      written,
      Array.from({ length: 100 }, (_, k) => `e${k}`),
    );
  });
});
