/**
 * User locks and the visible state of exclusive keys, through both client transports (HTTP API and
 * NATS) against a real nats-server and a listening API server.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import type { QueueClient } from "../../src/client/index.js";
import { ErrorCode, isJetjobError } from "../../src/client/index.js";
import { transports, useClients } from "../harness/clients.js";
import { useNats, waitFor } from "../harness/nats.js";

const h = useNats();

async function rejectsWith(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => isJetjobError(err) && err.code === code);
}

describe("locks and exclusive key state, over HTTP and over NATS", () => {
  const setup = useClients(h);

  for (const transport of transports) {
    it(`${transport}: a lock cannot be taken twice; release, renew and expiry behave`, async () => {
      const c = setup.clients[transport];
      const name = `deploy/${transport}:prod`;
      const a = await c.locks.acquire(name, { ttlMs: 5000, owner: "host-a" });
      await rejectsWith(c.locks.acquire(name, { ttlMs: 5000 }), ErrorCode.LockHeld);
      const listed = (await c.locks.list()).find((l) => l.name === name);
      assert.equal(listed?.owner, "host-a");
      assert.equal(listed?.fencing_token, a.fencingToken);
      assert.ok(!JSON.stringify(listed).includes(a.token), "the list never shows the secret token");

      const renewedUntil = await a.renew(10_000);
      assert.ok(renewedUntil.getTime() > Date.now() + 8000);
      // A waiter gets the lock as soon as it is released, and a newer fencing token.
      const waiting = c.locks.acquire(name, { ttlMs: 5000, waitMs: 10_000 });
      await a.release();
      const b = await waiting;
      assert.ok(b.fencingToken > a.fencingToken);
      await rejectsWith(a.release(), ErrorCode.LockLost);
      await rejectsWith(a.renew(), ErrorCode.LockLost);

      // A lease that runs out frees the lock for the next caller; the old holder has lost it.
      await b.release();
      const short = await c.locks.acquire(name, { ttlMs: 200 });
      const next = await c.locks.acquire(name, { ttlMs: 5000, waitMs: 5000 });
      await rejectsWith(short.release(), ErrorCode.LockLost);
      await next.release();
      assert.equal(
        (await c.locks.list()).find((l) => l.name === name),
        undefined,
      );
    });
  }

  it("concurrent acquirers: exactly one wins", async () => {
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, (_, i) =>
        setup.clients[i % 2 === 0 ? "http" : "nats"].locks.acquire("race", { ttlMs: 5000 }),
      ),
    );
    const won = results.filter((r) => r.status === "fulfilled");
    assert.equal(won.length, 1);
    for (const r of results) {
      if (r.status === "rejected") assert.ok(isJetjobError(r.reason) && r.reason.code === ErrorCode.LockHeld);
    }
    await (
      won[0] as PromiseFulfilledResult<Awaited<ReturnType<QueueClient["locks"]["acquire"]>>>
    ).value.release();
  });

  it("validates lock requests at the edge", async () => {
    const r = await fetch(`${setup.clients.url}/api/v1/locks`, {
      method: "POST",
      headers: { Authorization: `Bearer ${setup.clients.token}`, "Content-Type": "application/json" },
      body: JSON.stringify({ name: "x", ttl_ms: 5 }),
    });
    assert.equal(r.status, 400);
    // The same schema refuses it on both transports (usecases/locks.ts).
    for (const transport of transports) {
      await rejectsWith(setup.clients[transport].locks.acquire("", {}), ErrorCode.InvalidRequest);
      await rejectsWith(setup.clients[transport].locks.acquire("x", { ttlMs: 5 }), ErrorCode.InvalidRequest);
    }
  });

  for (const transport of transports) {
    it(`${transport}: shows which job holds a key and how many wait, per key and in queue stats`, async () => {
      const c = setup.clients[transport];
      const queue = `xv-${transport}`;
      const jobs = [];
      for (let i = 0; i < 3; i++)
        jobs.push(await c.enqueue("t", [i], { queue, exclusiveKey: `view-${transport}` }));
      const [held] = await setup.engine.fetch({ queues: [queue], count: 1, workerId: "w-view" });
      assert.equal(held?.id, jobs[0]!.id);
      const keys = await c.exclusiveKeys({ queue });
      assert.equal(keys.length, 1);
      assert.equal(keys[0]!.key, `view-${transport}`);
      assert.equal(keys[0]!.holder?.job_id, jobs[0]!.id);
      assert.equal(keys[0]!.holder?.worker_id, "w-view");
      assert.equal(keys[0]!.holder?.state, "active");
      assert.equal(keys[0]!.waiting, 2);
      const stats = await c.queues.stats(queue);
      assert.deepEqual(stats.exclusive, { keys_held: 1, jobs_waiting: 2 });
      for (const j of jobs) await c.cancel(j.id);
      await waitFor(async () => (await c.exclusiveKeys({ queue })).length === 0, {
        what: "the key to be idle",
      });
    });
  }

  for (const transport of transports) {
    it(`${transport}: a queue's key template gives jobs their key; explicit keys win; bad templates are refused`, async () => {
      const c = setup.clients[transport];
      const queue = `xt-${transport}`;
      await rejectsWith(
        c.queues.configure(queue, { exclusiveKeyTemplate: "host:{argz.0}" }),
        ErrorCode.ValidationError,
      );
      const cfg = await c.queues.configure(queue, { exclusiveKeyTemplate: "host:{args.0.host}" });
      assert.equal(cfg.exclusive_key_template, "host:{args.0.host}");
      const a = await c.enqueue("dns.update", [{ host: "web-1" }], { queue });
      assert.equal(a.exclusive_key, "host:web-1");
      const b = await c.enqueue("dns.update", [{ host: "web-1" }], { queue, exclusiveKey: "custom" });
      assert.equal(b.exclusive_key, "custom");
      await rejectsWith(c.enqueue("dns.update", [{}], { queue }), ErrorCode.ValidationError);
      const off = await c.queues.configure(queue, { exclusiveKeyTemplate: null });
      assert.equal(off.exclusive_key_template, undefined);
      await c.cancel(a.id);
      await c.cancel(b.id);
    });
  }
});
