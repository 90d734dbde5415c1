/**
 * The client SDK's two transports side by side (issue 20): every call, over HTTP and over NATS,
 * against the same store, gives the same answer or the same error. Both run the same use cases
 * (src/usecases), so what this checks is that nothing between a use case and the caller reshapes.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import type { Client } from "../../src/client/index.js";
import { ErrorCode, isJetjobError } from "../../src/client/index.js";
import type { JobState } from "../../src/core/states.js";
import type { TestClients, Transport } from "../harness/clients.js";
import { transports, useClients } from "../harness/clients.js";
import { useNats, waitFor } from "../harness/nats.js";

const h = useNats();

async function rejectsWith(p: Promise<unknown>, code: string, what: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => isJetjobError(err) && err.code === code, what);
}

/** The same call over both transports: both answers, for comparing. */
async function both<T>(clients: TestClients, call: (c: Client, t: Transport) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (const t of transports) out.push(await call(clients[t], t));
  return out;
}

describe("client transports give the same answers", () => {
  const setup = useClients(h);

  it("jobs: enqueue, get, list and a finished job's stream read the same", async () => {
    const job = await setup.clients.http.enqueue("same.job", [1, { a: "b" }], {
      queue: "ct-jobs",
      priority: 5,
    });
    const [viaHttp, viaNats] = await both(setup.clients, (c) => c.get(job.id));
    assert.deepEqual(viaNats, viaHttp);
    const [pageHttp, pageNats] = await both(setup.clients, (c) => c.list({ queue: "ct-jobs", limit: 10 }));
    assert.deepEqual(pageNats, pageHttp);
    await setup.clients.nats.cancel(job.id);
    const [evHttp, evNats] = await both(setup.clients, async (c) => {
      const events = [];
      for await (const e of c.watch(job.id)) events.push(e);
      return events;
    });
    assert.equal(evHttp!.length, 1);
    assert.equal(evNats!.length, 1);
    for (const events of [evHttp!, evNats!]) {
      assert.equal(events[0]!.type, "job.state");
      assert.equal(events[0]!.data.state, "cancelled");
    }
    const { id: _h, time: _t1, timestamp: _t2, ...restHttp } = evHttp![0]!;
    const { id: _n, time: _t3, timestamp: _t4, ...restNats } = evNats![0]!;
    assert.deepEqual(restNats, restHttp, "the same first event, up to its time");
  });

  it("refuses the same invalid input with the same error", async () => {
    for (const t of transports) {
      const c = setup.clients[t];
      await rejectsWith(c.list({ queue: "ct-jobs", state: "nope" as JobState }), ErrorCode.InvalidRequest, t);
      await rejectsWith(c.list({ queue: "bad queue" }), ErrorCode.InvalidRequest, t);
      await rejectsWith(c.get("not-an-id"), ErrorCode.NotFound, t);
      await rejectsWith(c.queues.stats("bad queue"), ErrorCode.InvalidRequest, t);
      await rejectsWith(c.queues.stats(`ct-never-${t}`), ErrorCode.NotFound, t);
      await rejectsWith(
        c.queues.configure("ct-jobs", { retention: { completedMs: -1 } }),
        ErrorCode.InvalidRequest,
        t,
      );
    }
    const [errHttp, errNats] = await both(setup.clients, (c) =>
      c
        .enqueueMany([
          { type: "ok", args: [] },
          { type: "", args: [] },
        ])
        .then(
          () => assert.fail("a batch with an invalid job is refused"),
          (err: unknown) => err,
        ),
    );
    assert.ok(isJetjobError(errHttp) && isJetjobError(errNats));
    assert.equal(errNats.code, errHttp.code);
    assert.equal(errNats.message, errHttp.message, "the batch names the job (jobs[1]) on both");
  });

  it("queues: list, stats, pause and resume, depth bound, delete", async () => {
    for (const t of transports) await setup.clients[t].enqueue("q.job", [], { queue: `ct-q-${t}` });
    const [listHttp, listNats] = await both(setup.clients, (c) => c.queues.list());
    assert.deepEqual(listNats, listHttp);
    const [pausedHttp, pausedNats] = await both(setup.clients, (c, t) => c.queues.pause(`ct-q-${t}`));
    assert.deepEqual(pausedHttp, { name: "ct-q-http", paused: true });
    assert.deepEqual(pausedNats, { name: "ct-q-nats", paused: true });
    const [statsHttp, statsNats] = await both(setup.clients, (c) => c.queues.stats("ct-q-http"));
    assert.deepEqual(statsNats, statsHttp);
    assert.equal(statsHttp!.paused, true);
    await both(setup.clients, (c, t) => c.queues.resume(`ct-q-${t}`));
    const [cfgHttp, cfgNats] = await both(setup.clients, (c, t) =>
      c.queues.configure(`ct-q-${t}`, { maxDepth: 1 }),
    );
    assert.deepEqual({ ...cfgNats, name: "x" }, { ...cfgHttp, name: "x" });
    for (const t of transports) {
      await rejectsWith(
        setup.clients[t].enqueue("q.job", [], { queue: `ct-q-${t}` }),
        ErrorCode.QueueFull,
        t,
      );
      await rejectsWith(setup.clients[t].queues.delete(`ct-q-${t}`), ErrorCode.Conflict, t);
    }
  });

  it("dead letters, cron and workflows read the same", async () => {
    const [dlHttp, dlNats] = await both(setup.clients, (c) => c.deadLetters.list({ limit: 5 }));
    assert.deepEqual(dlNats, dlHttp);
    for (const t of transports) {
      await setup.clients[t].cron.add({
        name: `ct-cron-${t}`,
        expression: "0 3 * * *",
        job: { type: "nightly", args: [], options: { queue: `ct-cron-${t}` } },
      });
    }
    const [cronHttp, cronNats] = await both(setup.clients, (c) => c.cron.list());
    assert.deepEqual(cronNats, cronHttp);
    const [pausedHttp, pausedNats] = await both(setup.clients, (c, t) => c.cron.pause(`ct-cron-${t}`));
    assert.equal(pausedHttp!.enabled, false);
    assert.equal(pausedNats!.enabled, false);
    const [firedHttp, firedNats] = await both(setup.clients, (c, t) => c.cron.trigger(`ct-cron-${t}`));
    assert.equal(firedHttp!.queue, "ct-cron-http");
    assert.equal(firedNats!.queue, "ct-cron-nats");
    for (const t of transports) await setup.clients[t].cron.delete(`ct-cron-${t}`);

    const wf = await setup.clients.http.workflows.chain([
      { type: "a", args: [], options: { queue: "ct-wf" } },
      { type: "b", args: [], options: { queue: "ct-wf" } },
    ]);
    const [wfHttp, wfNats] = await both(setup.clients, (c) => c.workflows.get(wf.id));
    assert.deepEqual(wfNats, wfHttp);
    assert.equal((await setup.clients.nats.workflows.cancel(wf.id)).state, "cancelled");
    const [afterHttp, afterNats] = await both(setup.clients, (c) => c.workflows.get(wf.id));
    assert.deepEqual(afterNats, afterHttp);
  });

  it("exclusive keys and storage list the same", async () => {
    await setup.clients.nats.enqueue("x.job", [], { queue: "ct-x", exclusiveKey: "acct:1" });
    // The key is handed to the job right after the enqueue, in the background with the sequencer.
    await waitFor(async () => (await setup.clients.nats.exclusiveKeys({ queue: "ct-x" }))[0]?.holder, {
      what: "the key to be held",
    });
    const [keysHttp, keysNats] = await both(setup.clients, (c) => c.exclusiveKeys({ queue: "ct-x" }));
    assert.deepEqual(keysNats, keysHttp);
    const [sHttp, sNats] = await both(setup.clients, (c) => c.storage());
    assert.deepEqual(
      sNats!.resources.map((r) => r.name),
      sHttp!.resources.map((r) => r.name),
    );
  });
});
