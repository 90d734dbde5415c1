/**
 * What is the sequencer's own (store/features/exclusive-sequencer.ts; exclusive.test.ts covers what
 * both designs share, in the default, the sequencer, and exclusive-lines.test.ts with per-key lines):
 * a new leader reads the line again, keeps a running holder and releases one whose notice was lost,
 * and takes over the per-key lines of a deployment that ran them.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";

import { createClient } from "../../src/client/index.js";
import type { Engine } from "../../src/store/engine.js";
import { createEngine } from "../../src/store/engine.js";
import { EXCLUSIVE_MODE_KEY } from "../../src/store/features/exclusive-mode.js";
import { resolveTopology } from "../../src/store/infra/topology.js";
import { useNats, waitFor } from "../harness/nats.js";

// The default; said here so that a JETJOB_EXCLUSIVE_SEQUENCER=0 in the environment cannot change it.
process.env.JETJOB_EXCLUSIVE_SEQUENCER = "1";

const h = useNats();

async function fetchOne(engine: Engine, queue: string): Promise<string> {
  const [job] = await waitFor(
    async () => {
      const got = await engine.fetch({ queues: [queue], count: 10, workerId: "w" });
      return got.length > 0 ? got : undefined;
    },
    { what: `a job in ${queue}` },
  );
  return job!.id;
}

describe("exclusive keys: the sequencer without a leader", () => {
  it("queue stats leave the keys out, saying so, only while keys are in use and no leader answers", async () => {
    // Runs first in this file: nothing with a key was stored on this server yet.
    const client = createClient({ nats: h.nats.url });
    try {
      await client.enqueue("t", [], { queue: "nl" });
      const before = await client.queues.stats("nl");
      assert.equal(before.exclusive_unknown, undefined, "no key ever used: nothing to leave out");
      assert.equal(before.exclusive, undefined);

      // No leader: the job is stored, and handed on once one runs.
      const job = await client.enqueue("t", [], { queue: "nl", exclusiveKey: "N" });
      const unknown = await client.queues.stats("nl");
      assert.equal(unknown.exclusive_unknown, true);
      assert.equal(unknown.exclusive, undefined);

      const leaderNc = await h.nats.connect();
      const engine = await createEngine(leaderNc);
      try {
        const known = await waitFor(
          async () => {
            const s = await client.queues.stats("nl");
            return s.exclusive?.keys_held === 1 ? s : undefined;
          },
          { what: "the leader to hand the key on", timeoutMs: 15_000 },
        );
        assert.equal(known.exclusive_unknown, undefined);
        assert.equal((await engine.get(job.id)).state, "available");
        await engine.cancel(job.id);
        await waitFor(async () => (await engine.exclusiveKeys({})).length === 0, { what: "the key idle" });
      } finally {
        await engine.close();
        await leaderNc.close();
      }
    } finally {
      await client.close();
    }
  });
});

describe("exclusive keys: the sequencer across a leader change", () => {
  let nc: NatsConnection;
  before(async () => {
    nc = await h.nats.connect();
  });
  after(async () => {
    await nc.close();
  });

  const open = () => createEngine(nc, { leaseMs: 1000, segmentLeaseMs: 5000 });

  it("a new leader keeps a running holder, and releases one that finished while no leader listened", async () => {
    const first = await open();
    assert.ok(first.ctx.sequencer, "the sequencer is on in this file");
    const ids: string[] = [];
    for (let n = 0; n < 4; n++) {
      ids.push(
        (await first.enqueue({ type: "t", args: [n], options: { queue: "sq", exclusive_key: "S" } })).id,
      );
    }
    await waitFor(() => first.scheduling, { what: "the first engine to lead" });
    assert.equal(await fetchOne(first, "sq"), ids[0]);
    // The leader goes; the holder finishes while nobody leads, so its release notice is lost.
    await first.close();
    const second = await open();
    try {
      await second.ack(ids[0]!);
      await waitFor(() => second.scheduling, { what: "the second engine to lead", timeoutMs: 15_000 });
      // The new leader finds ids[0] moved and finished: the key goes to ids[1], and to nobody else.
      assert.equal(await fetchOne(second, "sq"), ids[1]);
      assert.equal((await second.fetch({ queues: ["sq"], count: 10, workerId: "w2" })).length, 0);
      const [key] = await second.exclusiveKeys({ queue: "sq" });
      assert.equal(key?.holder?.job_id, ids[1]);
      assert.equal(key?.holder?.state, "active");
      assert.equal(key?.waiting, 2);
      const heldSince = Date.parse(key.holder.since);
      // A third engine takes over while ids[1] runs: ids[1] keeps the key until it is acked.
      await second.close();
      const thirdOpened = Date.now();
      const third = await open();
      try {
        await waitFor(() => third.scheduling, { what: "the third engine to lead", timeoutMs: 15_000 });
        const [still] = await third.exclusiveKeys({ queue: "sq" });
        assert.equal(still?.holder?.job_id, ids[1], "the running holder keeps its key");
        // Held since its move (the new leader reads it from the journal), not since the new leader
        // found it or last checked it.
        const since = Date.parse(still!.holder!.since);
        assert.ok(since < thirdOpened, `since ${still!.holder!.since} is before the new leader came`);
        assert.ok(Math.abs(since - heldSince) < 1000, `since ${still!.holder!.since} vs ${key.holder.since}`);
        assert.equal((await third.fetch({ queues: ["sq"], count: 10, workerId: "w3" })).length, 0);
        await third.ack(ids[1]!);
        assert.equal(await fetchOne(third, "sq"), ids[2]);
        await third.ack(ids[2]!);
        assert.equal(await fetchOne(third, "sq"), ids[3]);
        await third.ack(ids[3]!);
        await waitFor(async () => (await third.exclusiveKeys({})).length === 0, {
          what: "the key to go idle",
        });
      } finally {
        await third.close();
      }
    } finally {
      await second.close().catch(() => undefined);
    }
  });

  it("takes over the per-key lines of a deployment that did not use it: old jobs first, holder kept", async () => {
    // The deployment so far used the sequencer (the tests above); as one that never did, it has no
    // mode recorded (exclusive-mode.ts): the old engine records per-key lines, the new one switches.
    await new Kvm(nc).open(resolveTopology().buckets.xkeys).then((kv) => kv.purge(EXCLUSIVE_MODE_KEY));
    const old = await createEngine(nc, { leaseMs: 1000, segmentLeaseMs: 5000, exclusiveSequencer: false });
    const ids: string[] = [];
    try {
      for (let n = 0; n < 3; n++) {
        ids.push(
          (await old.enqueue({ type: "t", args: [n], options: { queue: "sm", exclusive_key: "M" } })).id,
        );
      }
      assert.equal(await fetchOne(old, "sm"), ids[0]);
    } finally {
      await old.close();
    }
    const engine = await open();
    try {
      const later = await engine.enqueue({
        type: "t",
        args: [9],
        options: { queue: "sm", exclusive_key: "M" },
      });
      await waitFor(() => engine.scheduling, { what: "the sequencer's engine to lead", timeoutMs: 15_000 });
      const [key] = await engine.exclusiveKeys({ queue: "sm" });
      assert.equal(key?.holder?.job_id, ids[0], "the old holder keeps its key");
      assert.equal(key?.waiting, 3);
      assert.equal((await engine.fetch({ queues: ["sm"], count: 10, workerId: "w2" })).length, 0);
      for (const id of [...ids, later.id].slice(1)) {
        await engine.ack((await engine.exclusiveKeys({ queue: "sm" }))[0]!.holder!.job_id);
        assert.equal(await fetchOne(engine, "sm"), id, "old jobs first, in their order");
      }
      await engine.ack(later.id);
      await waitFor(async () => (await engine.exclusiveKeys({})).length === 0, {
        what: "the key to go idle",
      });
    } finally {
      await engine.close();
    }
  });
});
