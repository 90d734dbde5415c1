/**
 * The API under the dashboard's queue page, against a real API server: "run now" of a scheduled or
 * retrying job (POST /ojs/v1/admin/jobs/{id}/promote and bulk/promote), bulk delete of finished jobs
 * (POST /ojs/v1/admin/jobs/bulk/delete, refusing unfinished ones), and the queue job search of
 * GET /api/v1/jobs (type, state + type, id start, text in args or errors) that says how much it read.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";

import type { RunningApiServer } from "../../src/server/run.js";
import { callApi, runTestServer } from "../harness/app.js";
import { useNats } from "../harness/nats.js";

const h = useNats();
const tokens = { read: "tok-read-queue-actions-4b1c", admin: "tok-admin-queue-actions-8e2f" };
type Body = Record<string, unknown>;
interface Job {
  id: string;
  state: string;
  type: string;
}

describe("queue page API: run now, bulk delete, job search", () => {
  let srv: RunningApiServer;
  const uniq = () => randomBytes(4).toString("hex");
  before(async () => {
    srv = await runTestServer(h.nats.url, [
      { name: "read", token: tokens.read, scope: "read" },
      { name: "admin", token: tokens.admin, scope: "admin" },
    ]);
  });
  after(async () => {
    await srv.close();
  });

  const call = (method: string, path: string, body?: unknown, token: string = tokens.admin) =>
    callApi(srv.url, token, method, path, body);

  const enqueue = async (queue: string, type: string, args: unknown[] = [1], options: Body = {}) => {
    const r = await call("POST", "/ojs/v1/jobs", { type, args, options: { queue, ...options } });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    return (r.body.job as Job).id;
  };
  const fetchOne = async (queue: string): Promise<Job | undefined> => {
    const r = await call("POST", "/ojs/v1/workers/fetch", { queues: [queue], count: 1, worker_id: "w-q" });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return (r.body.jobs as Job[])[0];
  };
  const state = async (id: string) => {
    const r = await call("GET", `/api/v1/jobs/${id}`);
    return r.status === 404 ? "not found" : (r.body.job as Job).state;
  };
  const inAnHour = () => new Date(Date.now() + 3_600_000).toISOString();

  it("runs a scheduled job now: it becomes available and is fetched; other states are refused", async () => {
    const queue = `qa-run-${uniq()}`;
    const id = await enqueue(queue, "t.later", [1], { scheduled_at: inAnHour() });
    assert.equal(await state(id), "scheduled");
    assert.equal(await fetchOne(queue), undefined, "not due: nothing to fetch");

    assert.equal((await call("POST", `/ojs/v1/admin/jobs/${id}/promote`, {}, tokens.read)).status, 403);
    const r = await call("POST", `/ojs/v1/admin/jobs/${id}/promote`, {});
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.state, "available");
    assert.equal((r.body.job as Body).previous_state, "scheduled");
    assert.equal(await state(id), "available");
    assert.equal((await fetchOne(queue))?.id, id, "a worker gets it at once");

    const again = await call("POST", `/ojs/v1/admin/jobs/${id}/promote`, {});
    assert.equal(again.status, 409, "an active job cannot be run now");
    assert.equal((again.body.error as Body).code, "conflict");
    assert.equal(
      (await call("POST", `/ojs/v1/admin/jobs/019539a4-0000-7000-8000-000000000000/promote`, {})).status,
      404,
    );
  });

  it("refuses to run now a scheduled job with an exclusive key (it waits in its key's line)", async () => {
    const queue = `qa-key-${uniq()}`;
    const id = await enqueue(queue, "t.keyed", [1], { scheduled_at: inAnHour(), exclusive_key: "host:a" });
    assert.equal(await state(id), "scheduled");
    const r = await call("POST", `/ojs/v1/admin/jobs/${id}/promote`, {});
    assert.equal(r.status, 409, JSON.stringify(r.body));
    assert.equal((r.body.error as Body).code, "conflict");
    assert.equal(((r.body.error as Body).details as Body).exclusive_key, "host:a");
    assert.equal(await state(id), "scheduled", "left as it was");
  });

  it("runs a retrying job now, and bulk promote reports each job it refused", async () => {
    const queue = `qa-retry-${uniq()}`;
    const id = await enqueue(queue, "t.flaky", [1], {
      retry: { max_attempts: 3, initial_interval: "PT1H", jitter: false },
    });
    assert.equal((await fetchOne(queue))?.id, id);
    await call("POST", "/ojs/v1/workers/nack", { job_id: id, worker_id: "w-q", error: { message: "x" } });
    assert.equal(await state(id), "retryable");
    const waiting = await enqueue(queue, "t.now");
    const r = await call("POST", "/ojs/v1/admin/jobs/bulk/promote", {
      job_ids: [id, waiting],
      confirm: true,
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual([r.body.succeeded, r.body.failed, r.body.promoted], [1, 1, 1]);
    const refused = (r.body.errors as Array<{ job_id: string; code: string }>)[0]!;
    assert.deepEqual([refused.job_id, refused.code], [waiting, "conflict"]);
    assert.equal(await state(id), "available");
    const fetched = new Set([(await fetchOne(queue))?.id, (await fetchOne(queue))?.id]);
    assert.ok(fetched.has(id), "the retrying job runs now, its second attempt");
  });

  it("bulk delete removes finished jobs and refuses unfinished ones, each with its reason", async () => {
    const queue = `qa-del-${uniq()}`;
    const done = await enqueue(queue, "t.ok");
    assert.equal((await fetchOne(queue))?.id, done);
    await call("POST", "/ojs/v1/workers/ack", { job_id: done, worker_id: "w-q", result: { ok: 1 } });
    const dead = await enqueue(queue, "t.bad", [2], {
      retry: { max_attempts: 1, on_exhaustion: "dead_letter" },
    });
    assert.equal((await fetchOne(queue))?.id, dead);
    await call("POST", "/ojs/v1/workers/nack", { job_id: dead, worker_id: "w-q", error: { message: "no" } });
    const waiting = await enqueue(queue, "t.wait");
    assert.deepEqual([await state(done), await state(dead)], ["completed", "discarded"]);

    const noConfirm = await call("POST", "/ojs/v1/admin/jobs/bulk/delete", { job_ids: [done] });
    assert.equal(noConfirm.status, 400, "needs confirm: true");
    const r = await call("POST", "/ojs/v1/admin/jobs/bulk/delete", {
      job_ids: [done, dead, waiting],
      confirm: true,
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual([r.body.matched, r.body.succeeded, r.body.failed, r.body.deleted], [3, 2, 1, 2]);
    const refused = (r.body.errors as Array<{ job_id: string; code: string }>)[0]!;
    assert.deepEqual([refused.job_id, refused.code], [waiting, "conflict"]);

    assert.deepEqual(
      [await state(done), await state(dead), await state(waiting)],
      ["not found", "not found", "available"],
    );
    const listed = await call("GET", `/api/v1/jobs?queue=${queue}`);
    assert.deepEqual(
      (listed.body.jobs as Job[]).map((j) => j.id),
      [waiting],
      "the listing no longer shows them",
    );
    const dlq = await call("GET", `/ojs/v1/admin/dead-letter?queue=${queue}`);
    assert.equal((dlq.body.items as unknown[]).length, 0, "the dead letter went with it");
    const twice = await call("POST", "/ojs/v1/admin/jobs/bulk/delete", { job_ids: [done], confirm: true });
    assert.equal((twice.body.errors as Array<{ code: string }>)[0]!.code, "not_found");
  });

  it("searches a queue's jobs by type, state and type, id start, and text in args or errors", async () => {
    const queue = `qa-find-${uniq()}`;
    const a = await enqueue(queue, "mail.send", [{ to: "ada@example.com" }]);
    const b = await enqueue(queue, "mail.digest", [{ to: "bob@example.com" }]);
    const c = await enqueue(queue, "report.build", [42]);
    const failing = await enqueue(queue, "mail.send", [{ to: "cy@example.com" }], {
      retry: { max_attempts: 1 },
    });
    // Fetched until the failing job comes (the others are handed back, still available).
    for (;;) {
      const j = await fetchOne(queue);
      assert.ok(j, "the failing job is fetched");
      if (j.id === failing) break;
      await call("POST", "/ojs/v1/workers/nack", {
        job_id: j.id,
        worker_id: "w-q",
        requeue: true,
        error: { message: "later" },
      });
    }
    await call("POST", "/ojs/v1/workers/nack", {
      job_id: failing,
      worker_id: "w-q",
      error: { code: "smtp_refused", message: "Mailbox Unavailable for cy" },
    });
    const search = async (q: string) => {
      const r = await call("GET", `/api/v1/jobs?queue=${queue}&${q}`, undefined, tokens.read);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      return {
        ids: (r.body.jobs as Job[]).map((j) => j.id).sort(),
        searched: r.body.searched,
        next: r.body.next_cursor,
      };
    };
    assert.deepEqual((await search("type=mail.send")).ids, [a, failing].sort());
    assert.deepEqual((await search("type=mail.*")).ids, [a, b, failing].sort());
    const typed = await search("type=mail.send&state=discarded");
    assert.deepEqual(typed.ids, [failing], "state and type together");
    assert.equal(typed.searched, 1, "it read the one discarded job");
    assert.deepEqual((await search(`id=${c.slice(0, -2)}`)).ids, [c]);
    const byArg = await search("text=BOB@example");
    assert.deepEqual(byArg.ids, [b], "text in the args, case-insensitive");
    assert.equal(byArg.searched, 4, "every job of the queue was read");
    assert.equal(byArg.next, undefined, "nothing left to search");
    assert.deepEqual((await search("text=mailbox%20unavailable")).ids, [failing], "text in the error");
    assert.deepEqual((await search("text=smtp_refused&state=discarded")).ids, [failing], "the error's code");
    assert.deepEqual((await search("text=nowhere")).ids, []);
  });

  it("a search reads a bounded number of jobs and gives the cursor to search on", async () => {
    const queue = `qa-cap-${uniq()}`;
    const jobs = Array.from({ length: 12 }, (_, i) => ({ type: "t.many", args: [i], options: { queue } }));
    assert.equal((await call("POST", "/ojs/v1/jobs/batch", { jobs })).status, 201);
    // limit=2 of a type all jobs have: it stops once 2 matched, and says where to go on.
    const first = await call("GET", `/api/v1/jobs?queue=${queue}&type=t.many&limit=2`);
    assert.equal((first.body.jobs as Job[]).length, 2);
    assert.equal(first.body.searched, 2, "it read no more than it needed");
    assert.equal(typeof first.body.next_cursor, "string");
    const rest = await call(
      "GET",
      `/api/v1/jobs?queue=${queue}&type=t.many&limit=50&cursor=${String(first.body.next_cursor)}`,
    );
    assert.equal((first.body.searched as number) + (rest.body.searched as number), 12, "every job read once");
    assert.equal(rest.body.next_cursor, undefined);
  });
});
