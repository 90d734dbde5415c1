/** One pair of SIGTERM/SIGINT listeners for every worker and agent of a process (core/signals.ts). */
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { stopOnSignals } from "../../src/core/signals.js";

describe("stopOnSignals", () => {
  it("adds one listener for many objects, stops each once, and removes it after the last", () => {
    const base = process.listenerCount("SIGTERM");
    const stopped: string[] = [];
    const offs = ["a", "b", "c"].map((name) => stopOnSignals(() => stopped.push(name)));
    assert.equal(process.listenerCount("SIGTERM"), base + 1);
    assert.equal(process.listenerCount("SIGINT") >= 1, true);
    offs[1]!(); // b closed on its own before the signal
    process.emit("SIGTERM", "SIGTERM");
    process.emit("SIGTERM", "SIGTERM"); // a second signal finds nothing left to stop
    assert.deepEqual(stopped, ["a", "c"]);
    assert.equal(process.listenerCount("SIGTERM"), base, "the default signal behaviour is back");
    for (const off of offs) off(); // unregistering again is harmless
    assert.equal(process.listenerCount("SIGTERM"), base);
  });
});
