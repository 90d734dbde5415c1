/**
 * Several API servers on one NATS share the work: the scheduler runs on one of them at a time and
 * moves over when it stops (cron fires once per tick, no tick lost across the move), and concurrent
 * fetches through both servers hand each job to exactly one worker.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { createClient } from "../../src/client/index.js";
import { silentLogger } from "../../src/core/logger.js";
import { createEngine } from "../../src/store/engine.js";
import { createWorker } from "../../src/worker/index.js";
import { useNats, waitFor } from "../harness/nats.js";

const h = useNats();

describe("two API servers on one NATS", () => {
  it("fire a cron schedule once per tick, without a gap when the scheduler moves", async () => {
    const [ncA, ncB] = [await h.nats.connect("a"), await h.nats.connect("b")];
    const a = await createEngine(ncA, { leaseMs: 1000 });
    const b = await createEngine(ncB, { leaseMs: 1000 });
    const ticks: number[] = [];
    const worker = createWorker({
      nats: h.nats.url,
      queues: ["beats"],
      handleSignals: false,
      logger: silentLogger,
      handlers: { beat: (j) => void ticks.push(Date.parse(String(j.meta.cron_tick))) },
    });
    await worker.ready;
    await a.registerCron({
      name: "beat",
      expression: "* * * * * *",
      job_template: { type: "beat", args: [], options: { queue: "beats" } },
    });
    const leader = await waitFor(() => (a.scheduling ? a : b.scheduling ? b : undefined), {
      what: "a scheduler",
    });
    const other = leader === a ? b : a;
    await waitFor(() => ticks.length >= 3, { timeoutMs: 15_000, what: "three ticks" });
    await leader.close(); // the scheduler stops; the other server takes over after the lease runs out
    await waitFor(() => other.scheduling, { timeoutMs: 10_000, what: "the other server to take over" });
    const handedOverAt = ticks.length;
    await waitFor(() => ticks.length >= handedOverAt + 3, {
      timeoutMs: 15_000,
      what: "ticks after the takeover",
    });
    await other.deleteCron("beat");
    await worker.close();
    await other.close();
    await Promise.all([ncA.close(), ncB.close()]);

    const sorted = [...ticks].sort((x, y) => x - y);
    assert.equal(new Set(sorted).size, sorted.length, "no tick fired twice");
    for (let i = 1; i < sorted.length; i++) {
      assert.equal(
        sorted[i]! - sorted[i - 1]!,
        1000,
        `no tick lost between ${new Date(sorted[i - 1]!).toISOString()} and ${new Date(sorted[i]!).toISOString()}`,
      );
    }
  });

  it("hand each job to exactly one fetcher across both servers", async () => {
    const [ncA, ncB] = [await h.nats.connect("a"), await h.nats.connect("b")];
    const a = await createEngine(ncA);
    const b = await createEngine(ncB);
    const client = createClient({ nats: ncA });
    const N = 200;
    const jobs = await client.enqueueMany(
      Array.from({ length: N }, (_, i) => ({ type: "t", args: [i], options: { queue: "shared" } })),
    );
    const delivered = new Map<string, number>();
    const deadline = Date.now() + 30_000;
    // Like HTTP workers: poll until every job was handed out (an empty answer just means "ask again").
    const fetcher = async (engine: typeof a, name: string) => {
      while (delivered.size < N && Date.now() < deadline) {
        const got = await engine.fetch({ queues: ["shared"], count: 1, workerId: name });
        for (const j of got) {
          delivered.set(j.id, (delivered.get(j.id) ?? 0) + 1);
          await engine.ack(j.id, name);
        }
      }
    };
    await Promise.all([0, 1, 2, 3].flatMap((i) => [fetcher(a, `a${i}`), fetcher(b, `b${i}`)]));
    assert.equal(delivered.size, N, "every job was delivered");
    assert.ok(
      [...delivered.values()].every((n) => n === 1),
      "no job was delivered twice",
    );
    const states = await Promise.all(jobs.map(async (j) => (await client.get(j.id)).state));
    assert.ok(states.every((s) => s === "completed"));
    await client.close();
    await Promise.all([a.close(), b.close()]);
    await Promise.all([ncA.close(), ncB.close()]);
  });
});
