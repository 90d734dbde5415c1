/**
 * HTTP fetch spreads a big segment's rest only when the lane has nothing else to hand out
 * (store/segments/fetch.ts): a fetch that claims a few jobs of the lane's last segment moves the rest
 * into small segments, so that concurrent fetchers do not take turns on one delivery; when other
 * segments wait in the lane, the other fetchers take those and the rest stays where it is (a split
 * would cost a publish per copy, a move append, and two journal reads per later report).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { useEngine } from "../harness/engine.js";
import { useNats } from "../harness/nats.js";

const h = useNats();

describe("HTTP fetch splits a segment only when the lane has nothing else", () => {
  const used = useEngine(h);

  const messages = async () =>
    (await used.engine.ctx.jsm.streams.info(used.engine.ctx.topology.streams.queue)).state.messages;
  const batch = (queue: string, n: number) =>
    used.engine.enqueueBatch(
      Array.from({ length: n }, (_, i) => ({ type: "split.t", args: [i], options: { queue } })),
    );

  it("the lane's only segment: the rest is moved into small segments that other fetchers take at once", async () => {
    await batch("split-one", 100);
    const before = await messages();
    const first = await used.engine.fetch({ queues: ["split-one"], count: 2, workerId: "w0" });
    assert.equal(first.length, 2);
    assert.ok((await messages()) > before, "the rest of the segment was not spread");
    // Eight fetchers at once all get jobs (none waits for another's delivery).
    const got = await Promise.all(
      Array.from({ length: 8 }, (_, w) =>
        used.engine.fetch({ queues: ["split-one"], count: 2, workerId: `w${w + 1}` }),
      ),
    );
    assert.deepEqual(
      got.map((g) => g.length),
      Array.from({ length: 8 }, () => 2),
    );
    const ids = new Set([...first, ...got.flat()].map((j) => j.id));
    assert.equal(ids.size, 18, "a job was handed out twice");
  });

  it("other segments waiting in the lane: the rest stays in its segment", async () => {
    for (let k = 0; k < 4; k++) await batch("split-many", 50);
    const before = await messages();
    const got = await used.engine.fetch({ queues: ["split-many"], count: 2, workerId: "w" });
    assert.equal(got.length, 2);
    assert.equal(await messages(), before, "a segment was split although others were waiting");
    // The rest is still handed out: every job once.
    const seen = new Set(got.map((j) => j.id));
    for (;;) {
      const more = await used.engine.fetch({ queues: ["split-many"], count: 20, workerId: "w" });
      if (more.length === 0) break;
      for (const j of more) seen.add(j.id);
    }
    assert.equal(seen.size, 200);
  });
});
