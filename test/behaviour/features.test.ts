/**
 * Queue features end to end through the SDKs (the client over both transports, HTTP and NATS, +
 * NATS-direct workers), with an engine running the scheduler: dead letters, unique jobs, pause, rate
 * limits, priorities, workflows, cron, listing, retry and live events. The worker must obey exactly
 * the same rules as HTTP fetch; each transport's tests use queues of their own.
 */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";

import type { Client, JobEvent } from "../../src/client/index.js";
import { ErrorCode, isConflict, isJetjobError } from "../../src/client/index.js";
import { silentLogger } from "../../src/core/logger.js";
import type { Handlers } from "../../src/worker/index.js";
import { createWorker, JobFailure } from "../../src/worker/index.js";
import { transports, useClients } from "../harness/clients.js";
import { useNats, waitFor } from "../harness/nats.js";

const h = useNats();

describe("queue features through the SDKs", () => {
  const setup = useClients(h);

  for (const transport of transports) {
    describe(transport, () => {
      let client: Client;
      before(() => {
        client = setup.clients[transport];
      });
      /** A queue, schedule or (for unique keys) job type name of this transport's own. */
      const q = (name: string) => `${name}-${transport}`;

      const worker = (
        queues: string[],
        handlers: Handlers<Record<string, unknown[]>>,
        extra: { concurrency?: number } = {},
      ) =>
        createWorker({
          nats: h.nats.url,
          queues,
          handlers,
          handleSignals: false,
          logger: silentLogger,
          ...extra,
        });

      it("dead letters a job that exhausts its attempts, and retries it from there", async () => {
        let fail = true;
        const w = worker([q("dlq")], {
          flaky: () => {
            if (fail) throw new JobFailure("down", { code: "upstream_down" });
            return "ok";
          },
        });
        await w.ready;
        const job = await client.enqueue("flaky", [], {
          queue: q("dlq"),
          retry: { maxAttempts: 1, onExhaustion: "dead_letter" },
        });
        assert.equal((await client.waitFor(job.id)).state, "discarded");
        const page = await client.deadLetters.list({ queue: q("dlq") });
        assert.deepEqual(
          page.jobs.map((j) => j.id),
          [job.id],
        );
        assert.equal(page.jobs[0]?.errors?.[0]?.code, "upstream_down");
        fail = false;
        const revived = await client.deadLetters.retry(job.id);
        assert.equal(revived.state, "available");
        assert.equal(revived.attempt, 0);
        const done = await client.waitFor(job.id);
        assert.equal(done.state, "completed");
        assert.equal(done.result, "ok");
        assert.equal((await client.deadLetters.list({ queue: q("dlq") })).total, 0);
        await w.close();
      });

      it("unique on selected keys of the args object (args_keys) and of meta (meta_keys)", async () => {
        const unique = { keys: ["type", "args"] as Array<"type" | "args">, argsKeys: ["userId"] };
        await client.enqueue(q("mail.welcome"), [{ userId: 7, locale: "en" }], {
          queue: q("uniq-keys"),
          unique,
        });
        await assert.rejects(
          client.enqueue(q("mail.welcome"), [{ userId: 7, locale: "de" }], { queue: q("uniq-keys"), unique }),
          isConflict,
          "same userId, other locale: a duplicate",
        );
        await client.enqueue(q("mail.welcome"), [{ userId: 8, locale: "en" }], {
          queue: q("uniq-keys"),
          unique,
        });
        await assert.rejects(
          client.enqueue(q("mail.welcome"), [{ user: 9 }], { queue: q("uniq-keys"), unique }),
          (err: unknown) => isJetjobError(err) && err.code === ErrorCode.InvalidRequest,
          "args_keys naming a key the args lack is refused",
        );
        const byTenant = { keys: ["type", "meta"] as Array<"type" | "meta">, metaKeys: ["tenant"] };
        await client.enqueue(q("sync"), [], {
          queue: q("uniq-keys"),
          unique: byTenant,
          meta: { tenant: "a", trace: "1" },
        });
        await assert.rejects(
          client.enqueue(q("sync"), [], {
            queue: q("uniq-keys"),
            unique: byTenant,
            meta: { tenant: "a", trace: "2" },
          }),
          isConflict,
        );
      });

      it("keeps unique jobs unique: reject, ignore, replace", async () => {
        const unique = { keys: ["type", "args"] as Array<"type" | "args">, onConflict: "reject" as const };
        const a = await client.enqueue(q("report.build"), [1], { queue: q("uniq"), unique });
        await assert.rejects(
          client.enqueue(q("report.build"), [1], { queue: q("uniq"), unique }),
          isConflict,
        );
        const other = await client.enqueue(q("report.build"), [2], { queue: q("uniq"), unique });
        assert.notEqual(other.id, a.id);
        const ignored = await client.enqueue(q("report.build"), [1], {
          queue: q("uniq"),
          unique: { ...unique, onConflict: "ignore" },
        });
        assert.equal(ignored.id, a.id, "ignore returns the existing job");
        const replaced = await client.enqueue(q("report.build"), [1], {
          queue: q("uniq"),
          unique: { ...unique, onConflict: "replace" },
        });
        assert.notEqual(replaced.id, a.id);
        assert.equal((await client.get(a.id)).state, "cancelled");
        // Once the holder finished, the key is free again.
        await client.cancel(replaced.id);
        const again = await client.enqueue(q("report.build"), [1], { queue: q("uniq"), unique });
        assert.equal(again.state, "available");
      });

      it("stops handing jobs to workers while a queue is paused", async () => {
        const ran: string[] = [];
        await client.queues.pause(q("paused"));
        const w = worker([q("paused")], { t: (j) => void ran.push(j.id) });
        await w.ready;
        const job = await client.enqueue("t", [], { queue: q("paused") });
        const stats = await client.queues.stats(q("paused"));
        assert.equal(stats.paused, true);
        assert.equal(stats.available, 1);
        assert.deepEqual(await setup.engine.fetch({ queues: [q("paused")], count: 1, workerId: "http" }), []);
        await client.queues.resume(q("paused"));
        assert.equal((await client.waitFor(job.id)).state, "completed");
        assert.deepEqual(ran, [job.id]);
        await w.close();
      });

      it("spaces job starts by the queue's rate limit, across workers", async () => {
        const starts: number[] = [];
        const handlers = { tick: () => void starts.push(Date.now()) };
        const w1 = worker([q("limited")], handlers, { concurrency: 4 });
        const w2 = worker([q("limited")], handlers, { concurrency: 4 });
        try {
          await Promise.all([w1.ready, w2.ready]);
          const jobs = await Promise.all(
            Array.from({ length: 5 }, () =>
              client.enqueue("tick", [], { queue: q("limited"), rateLimitPerSecond: 10 }),
            ),
          );
          await Promise.all(jobs.map((j) => client.waitFor(j.id)));
        } finally {
          await Promise.all([w1.close(), w2.close()]);
        }
        starts.sort((a, b) => a - b);
        // Tokens are granted 100 ms apart; a handler may start some time after its token on a busy
        // machine, which shortens the gap to the next start: so any three starts in a row must span two
        // intervals (less slack), and the whole run at least four. Without the limit all start at once.
        for (let i = 2; i < starts.length; i++) {
          assert.ok(
            starts[i]! - starts[i - 2]! >= 140,
            `starts ${i - 2} to ${i} took ${starts[i]! - starts[i - 2]!} ms (limit: 10/s)`,
          );
        }
        assert.ok(
          starts[4]! - starts[0]! >= 380,
          `5 starts took ${starts[4]! - starts[0]!} ms (limit: 10/s)`,
        );
      });

      it("runs higher priorities first", async () => {
        await client.queues.pause(q("prio"));
        const order: number[] = [];
        const low = await client.enqueue("p", [0], { queue: q("prio"), priority: 0 });
        const high = await client.enqueue("p", [10], { queue: q("prio"), priority: 10 });
        const w = worker([q("prio")], { p: (j) => void order.push(j.args[0] as number) }, { concurrency: 1 });
        await w.ready;
        await client.queues.resume(q("prio"));
        await Promise.all([client.waitFor(low.id), client.waitFor(high.id)]);
        assert.deepEqual(order, [10, 0]);
        await w.close();
      });

      it("runs a chain with result passing, and a batch with callbacks, on NATS-direct workers", async () => {
        const seen: unknown[] = [];
        const w = worker([q("wf")], {
          "step.one": () => ({ n: 1 }),
          "step.two": (j) => {
            assert.deepEqual(j.parentResults, j.parent_results);
            seen.push(j.parent_results);
            return { n: 2 };
          },
          fails: () => {
            throw new JobFailure("no", { retryable: false });
          },
          "on.failure": (j) => void seen.push(["callback", ...j.args]),
        });
        await w.ready;
        const chain = await client.workflows.chain(
          [
            { type: "step.one", args: [], options: { queue: q("wf") } },
            { type: "step.two", args: [], options: { queue: q("wf") } },
          ],
          { name: "two-steps" },
        );
        await waitFor(async () => (await client.workflows.get(chain.id)).state === "completed", {
          what: "the chain",
        });
        assert.deepEqual(seen[0], [{ n: 1 }]);
        const batch = await client.workflows.batch(
          [
            { type: "step.one", args: [], options: { queue: q("wf") } },
            { type: "fails", args: [], options: { queue: q("wf") } },
          ],
          { onFailure: { type: "on.failure", args: ["x"], options: { queue: q("wf") } } },
        );
        await waitFor(async () => (await client.workflows.get(batch.id)).state === "failed", {
          what: "the batch",
        });
        await waitFor(() => seen.some((s) => Array.isArray(s) && s[0] === "callback"), {
          what: "the failure callback",
        });
        await w.close();
      });

      it("fires a cron schedule once per tick", async () => {
        const ticks: string[] = [];
        const w = worker([q("cronq")], { beat: (j) => void ticks.push(String(j.meta.cron_tick)) });
        await w.ready;
        await client.cron.add({
          name: q("every-second"),
          expression: "* * * * * *",
          job: { type: "beat", args: [], options: { queue: q("cronq") } },
        });
        await waitFor(() => ticks.length >= 3, { timeoutMs: 15_000, what: "three cron runs" });
        await client.cron.delete(q("every-second"));
        assert.equal(new Set(ticks).size, ticks.length, `no tick fired twice: ${ticks.join(", ")}`);
        const listed = (await client.cron.list()).map((c) => c.name);
        assert.equal(listed.includes(q("every-second")), false);
        await w.close();
      });

      it("lists a queue's jobs newest first with a cursor, and retries cancelled ones", async () => {
        const ids: string[] = [];
        for (let i = 0; i < 5; i++) ids.push((await client.enqueue("l", [i], { queue: q("listq") })).id);
        const p1 = await client.list({ queue: q("listq"), limit: 3 });
        assert.deepEqual(
          p1.jobs.map((j) => j.id),
          [ids[4], ids[3], ids[2]],
        );
        assert.ok(p1.next_cursor);
        const p2 = await client.list({ queue: q("listq"), limit: 3, cursor: p1.next_cursor });
        assert.deepEqual(
          p2.jobs.map((j) => j.id),
          [ids[1], ids[0]],
        );
        await client.cancel(ids[0]!);
        assert.deepEqual(
          (await client.list({ queue: q("listq"), state: "cancelled" })).jobs.map((j) => j.id),
          [ids[0]],
        );
        const retried = await client.retry(ids[0]!);
        assert.equal(retried.state, "available");
        assert.equal((await client.get(ids[0]!)).state, "available");
        await assert.rejects(client.retry(ids[1]!), isConflict);
      });

      it("streams a job's live events until it finishes", async () => {
        const job = await client.enqueue("watched", [], { queue: q("watch") });
        const events: JobEvent[] = [];
        const watching = (async () => {
          for await (const e of client.watch(job.id)) events.push(e);
        })();
        await waitFor(() => events.length > 0, { what: "the state snapshot" });
        const w = worker([q("watch")], { watched: () => "done" });
        await watching;
        assert.equal(events[0]?.type, "job.state");
        assert.equal(events[0]?.data.state, "available");
        assert.deepEqual(
          events.slice(1).map((e) => e.type),
          ["job.started", "job.completed"],
        );
        await w.close();
      });
    });
  }
});
