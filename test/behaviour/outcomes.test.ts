/**
 * What the doors record and hand out (issue 23): a report from a worker that lost its lease is
 * refused (`lease_lost`), never recorded over the attempt that runs now; a paused queue hands out
 * nothing, at either door, once the pause returned.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { createClient } from "../../src/client/index.js";
import { silentLogger } from "../../src/core/logger.js";
import type { RunningApiServer } from "../../src/server/run.js";
import { createWorker } from "../../src/worker/index.js";
import { runTestServer } from "../harness/app.js";
import { useNats, waitFor } from "../harness/nats.js";

const h = useNats();
const token = "outcomes-token-0123456789";

describe("fenced reports on the HTTP door", () => {
  let srv: RunningApiServer;
  const call = async (path: string, body?: unknown, method = "POST") => {
    const r = await fetch(`${srv.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: r.status, body: (await r.json()) as Record<string, unknown> };
  };
  const fetchOne = async (queue: string, worker: string, visibilityMs?: number) => {
    const r = await call("/ojs/v1/workers/fetch", {
      queues: [queue],
      count: 1,
      worker_id: worker,
      ...(visibilityMs === undefined ? {} : { visibility_timeout_ms: visibilityMs }),
    });
    return (r.body.jobs as Array<{ id: string; attempt: number }>)[0];
  };
  /** A job fetched by w1 whose lease ran out, then fetched again by w2 (attempt 2). */
  const lostToAnother = async (queue: string) => {
    await call("/ojs/v1/jobs", { type: "fenced", args: [], options: { queue, visibility_timeout_ms: 200 } });
    const first = await fetchOne(queue, "w1");
    assert.ok(first);
    // w2's own lease is long, so on a loaded machine it cannot run out before the test's reports.
    const second = await waitFor(() => fetchOne(queue, "w2", 60_000), {
      timeoutMs: 5000,
      what: "the lease to run out",
    });
    assert.equal(second.id, first.id);
    assert.equal(second.attempt, 2);
    return first.id;
  };

  before(async () => {
    srv = await runTestServer(h.nats.url, [{ name: "admin", token, scope: "admin" }]);
  });
  after(async () => {
    await srv.close();
  });

  it("an ack from the worker that lost the job is refused; the current holder's ack is recorded", async () => {
    const id = await lostToAnother("fence-ack");
    const late = await call("/ojs/v1/workers/ack", { job_id: id, worker_id: "w1", result: "from w1" });
    assert.equal(late.status, 409);
    const err = late.body.error as { code: string; details: { holder: string; attempt: number } };
    assert.equal(err.code, "x_lease_lost");
    assert.equal(err.details.holder, "w2");
    assert.equal(err.details.attempt, 2);
    const job = (await call(`/ojs/v1/jobs/${id}`, undefined, "GET")).body.job as { state: string };
    assert.equal(job.state, "active", "attempt 2 still runs");
    const ok = await call("/ojs/v1/workers/ack", { job_id: id, worker_id: "w2", result: "from w2" });
    assert.equal(ok.status, 200);
    const done = (await call(`/ojs/v1/jobs/${id}`, undefined, "GET")).body.job as {
      result: string;
      worker_id: string;
    };
    assert.equal(done.result, "from w2");
    assert.equal(done.worker_id, "w2");
  });

  it("a nack and a heartbeat from the worker that lost the job are refused too", async () => {
    const id = await lostToAnother("fence-nack");
    const nack = await call("/ojs/v1/workers/nack", {
      job_id: id,
      worker_id: "w1",
      error: { message: "late" },
    });
    assert.equal(nack.status, 409);
    assert.equal((nack.body.error as { code: string }).code, "x_lease_lost");
    const beat = await call("/ojs/v1/workers/heartbeat", { worker_id: "w1", active_job_ids: [id] });
    assert.equal(beat.status, 200);
    assert.deepEqual(beat.body.jobs_extended, []);
    assert.deepEqual(beat.body.jobs_lost, [id]);
    const mine = await call("/ojs/v1/workers/heartbeat", { worker_id: "w2", active_job_ids: [id] });
    assert.deepEqual(mine.body.jobs_extended, [id]);
  });

  it("a report after the worker's own lease ran out (nobody took the job yet) is refused", async () => {
    await call("/ojs/v1/jobs", {
      type: "fenced",
      args: [],
      options: { queue: "fence-late", visibility_timeout_ms: 150 },
    });
    const job = await fetchOne("fence-late", "w1");
    assert.ok(job);
    await waitFor(
      async () =>
        ((await call(`/ojs/v1/jobs/${job.id}`, undefined, "GET")).body.job as { state: string }).state ===
        "available",
      { what: "the lease to run out" },
    );
    const late = await call("/ojs/v1/workers/ack", { job_id: job.id, worker_id: "w1" });
    assert.equal(late.status, 409);
    assert.equal((late.body.error as { code: string }).code, "x_lease_lost");
  });

  it("a report without worker_id applies to the current claim (OJS makes the field optional)", async () => {
    const id = await lostToAnother("fence-anon");
    const ack = await call("/ojs/v1/workers/ack", { job_id: id, result: "anonymous" });
    assert.equal(ack.status, 200);
    const done = (await call(`/ojs/v1/jobs/${id}`, undefined, "GET")).body.job as { worker_id: string };
    assert.equal(done.worker_id, "w2", "recorded as attempt 2's outcome");
  });
});

describe("pause is a barrier", () => {
  let srv: RunningApiServer;
  const call = async (path: string, body?: unknown, method = "POST") => {
    const r = await fetch(`${srv.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: r.status, body: (await r.json()) as Record<string, unknown> };
  };
  before(async () => {
    srv = await runTestServer(h.nats.url, [{ name: "admin", token, scope: "admin" }]);
  });
  after(async () => {
    await srv.close();
  });

  it("once pause returned, no HTTP fetch or NATS worker starts a job of the queue", async () => {
    const queue = "barrier";
    await call("/ojs/v1/jobs", { type: "b", args: [0], options: { queue } });
    // Fetchers that keep asking, with requests in flight when the pause happens.
    const fetched = new Set<string>();
    let stop = false;
    const fetchers = Array.from({ length: 4 }, async (_, k) => {
      while (!stop) {
        const r = await call("/ojs/v1/workers/fetch", { queues: [queue], count: 1, worker_id: `f${k}` });
        for (const j of (r.body.jobs as Array<{ id: string }> | undefined) ?? []) fetched.add(j.id);
      }
    });
    const started: string[] = [];
    const worker = createWorker({
      nats: h.nats.url,
      queues: [queue],
      handleSignals: false,
      logger: silentLogger,
      handlers: { b: (job) => void started.push(job.id) },
    });
    await worker.ready;
    try {
      await waitFor(() => fetched.size + started.length >= 1, { what: "the first job to be taken" });
      const paused = await call(`/ojs/v1/queues/${queue}/pause`);
      assert.equal(paused.status, 200);
      const after: string[] = [];
      for (let k = 0; k < 20; k++) {
        const r = await call("/ojs/v1/jobs", { type: "b", args: [k + 1], options: { queue } });
        after.push((r.body.job as { id: string }).id);
      }
      // Watch for a second: none of the jobs enqueued after the pause may be handed out or started.
      const until = Date.now() + 1000;
      await waitFor(() => Date.now() > until, { timeoutMs: 5000, intervalMs: 50 });
      const leaked = after.filter((id) => fetched.has(id) || started.includes(id));
      assert.deepEqual(leaked, [], "jobs started while paused");
      for (const id of after) {
        const j = (await call(`/ojs/v1/jobs/${id}`, undefined, "GET")).body.job as {
          state: string;
          attempt: number;
        };
        assert.equal(j.state, "available");
        assert.equal(j.attempt, 0);
      }
      await call(`/ojs/v1/queues/${queue}/resume`);
      await waitFor(() => after.every((id) => fetched.has(id) || started.includes(id)), {
        timeoutMs: 15_000,
        what: "every job to be taken after resume",
      });
    } finally {
      stop = true;
      await Promise.all(fetchers);
      await worker.close();
    }
  });
});

describe("listings are complete", () => {
  let srv: RunningApiServer;
  const call = async (path: string, body?: unknown, method = "POST") => {
    const r = await fetch(`${srv.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: r.status, body: (await r.json()) as Record<string, unknown> };
  };
  const list = async (queue: string, extra = "") => {
    const ids: Array<{ id: string; state: string }> = [];
    let cursor: string | undefined;
    for (;;) {
      const r = await call(
        `/api/v1/jobs?queue=${queue}&limit=3${extra}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`,
        undefined,
        "GET",
      );
      assert.equal(r.status, 200, JSON.stringify(r.body));
      ids.push(...(r.body.jobs as Array<{ id: string; state: string }>));
      cursor = r.body.next_cursor as string | undefined;
      if (!cursor) return ids;
    }
  };
  before(async () => {
    srv = await runTestServer(h.nats.url, [{ name: "admin", token, scope: "admin" }]);
  });
  after(async () => {
    await srv.close();
  });

  it("lists scheduled, retrying, waiting-for-a-key and promoted jobs, each once, in its state now", async () => {
    const queue = "complete";
    const enq = async (body: Record<string, unknown>) =>
      (
        (
          await call("/ojs/v1/jobs", {
            type: "x",
            args: [],
            ...body,
            options: { queue, ...(body.options as object) },
          })
        ).body.job as { id: string }
      ).id;
    const plain = await enq({});
    const later = await enq({ options: { scheduled_at: new Date(Date.now() + 3_600_000).toISOString() } });
    const soon = await enq({ options: { scheduled_at: new Date(Date.now() + 300).toISOString() } });
    const holder = await enq({ options: { exclusive_key: "k1" } });
    const waiter = await enq({ options: { exclusive_key: "k1" } });
    const retried = await enq({ options: { retry: { max_attempts: 3, initial_interval: "PT1H" } } });
    // Fail `retried` once (it waits an hour for its retry), and let `soon` be promoted.
    const fetched = await waitFor(
      async () => {
        const r = await call("/ojs/v1/workers/fetch", { queues: [queue], count: 10, worker_id: "w" });
        const jobs = (r.body.jobs as Array<{ id: string }>).map((j) => j.id);
        return jobs.includes(retried) ? jobs : undefined;
      },
      { what: "the job to retry to be fetched" },
    );
    await call("/ojs/v1/workers/nack", { job_id: retried, worker_id: "w", error: { message: "once" } });
    // The key's holder stays active, so its waiter stays pending.
    for (const id of fetched)
      if (id !== retried && id !== holder) await call("/ojs/v1/workers/ack", { job_id: id, worker_id: "w" });
    await waitFor(
      async () =>
        ((await call(`/ojs/v1/jobs/${soon}`, undefined, "GET")).body.job as { state: string }).state !==
        "scheduled",
      { what: "the soon job to be promoted" },
    );

    const all = await list(queue);
    const ids = all.map((j) => j.id);
    assert.equal(new Set(ids).size, ids.length, "each job once");
    const expect = [plain, later, soon, holder, waiter, retried];
    assert.deepEqual([...ids].sort(), [...expect].sort());
    const state = new Map(all.map((j) => [j.id, j.state]));
    assert.equal(state.get(later), "scheduled");
    assert.equal(state.get(retried), "retryable");
    assert.equal(state.get(waiter), "pending");
    assert.equal(state.get(holder), "active");
    // Newest first.
    assert.deepEqual(ids, [...expect].reverse());
    // The queue's statistics count the same jobs as the list shows, state by state.
    const stats = (await call(`/ojs/v1/queues/${queue}/stats`, undefined, "GET")).body.stats as Record<
      string,
      number
    >;
    for (const st of ["scheduled", "retryable", "pending", "active", "available"] as const) {
      assert.equal(stats[st], all.filter((j) => j.state === st).length, `stats ${st}`);
    }
    // The state filters find them too.
    assert.deepEqual(
      (await list(queue, "&state=scheduled")).map((j) => j.id),
      [later],
    );
    assert.deepEqual(
      (await list(queue, "&state=retryable")).map((j) => j.id),
      [retried],
    );
  });
});

describe("queue statistics past 2,000 open segments", () => {
  it("counts 3,000 jobs pushed one by one (3,000 segments) exactly", async () => {
    const srv = await runTestServer(h.nats.url, [{ name: "admin", token, scope: "admin" }]);
    const client = createClient({ nats: srv.nc });
    try {
      for (let k = 0; k < 3000; k++) await client.enqueue("one.by.one", [k], { queue: "many-segments" });
      const r = await fetch(`${srv.url}/ojs/v1/queues/many-segments/stats`, {
        headers: { authorization: `Bearer ${token}` },
      });
      const stats = ((await r.json()) as { stats: { available: number; approximate?: boolean } }).stats;
      assert.equal(stats.available, 3000);
      assert.equal(stats.approximate, undefined);
    } finally {
      await client.close();
      await srv.close();
    }
  });
});
