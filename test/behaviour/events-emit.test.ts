/**
 * Events emitted in one turn go out together, one batch per queue of at most 500 events
 * (store/jobs/events.ts), however many are emitted: a bulk operation's events never make the
 * operation itself fail.
 */
import { describe, it } from "node:test";

import { uuidv7 } from "../../src/core/ids.js";
import { emitEvents, EventType } from "../../src/store/jobs/events.js";
import type { JobEvent } from "../../src/store/jobs/events.js";
import { useEngine } from "../harness/engine.js";
import { useNats, waitFor } from "../harness/nats.js";

const h = useNats();

describe("emitting events", () => {
  const used = useEngine(h);

  it("a turn's events of one queue are stored in batches of 500, even 300,001 of them", async () => {
    const { ctx } = used.engine;
    const stored = async () => (await ctx.jsm.streams.info(ctx.topology.streams.events)).state.messages;
    const before = await stored();
    const ev = (): JobEvent => ({ t: EventType.Completed, at: Date.now(), id: uuidv7(), jt: "t", q: "emit" });
    emitEvents(ctx, "emit", [ev()]);
    emitEvents(
      ctx,
      "emit",
      Array.from({ length: 300_000 }, () => ev()),
    );
    await waitFor(async () => (await stored()) === before + Math.ceil(300_001 / 500), {
      timeoutMs: 30_000,
      what: "601 stored event batches",
    });
  });
});
