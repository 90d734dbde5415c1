/**
 * OJS wire shapes as the official clients read them (issue 17), against a real API server: queue
 * stats/pause/resume (http-binding §11.2-11.4), cron upsert, paging and spec field names (§13,
 * ojs-cron §2, §8), pagination cursors (§17.2), dead letters' `discarded_at` (§12.1), workflows in
 * the http-binding form (§14.1), version negotiation (§3.2), `x_` error codes (§16.3) and CORS (§20).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import type { RunningApiServer } from "../../src/server/run.js";
import { runTestServer } from "../harness/app.js";
import { useNats, waitFor } from "../harness/nats.js";

const h = useNats();
const token = "tok-admin-ojs-wire-5e8c1d2a";

interface Res {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

describe("OJS wire shapes", () => {
  let srv: RunningApiServer;
  before(async () => {
    srv = await runTestServer(h.nats.url, [{ name: "admin", token, scope: "admin" }], {
      corsOrigins: ["https://admin.example"],
    });
  });
  after(async () => {
    await srv.close();
  });

  const call = async (
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<Res> => {
    const r = await fetch(`${srv.url}${path}`, {
      method,
      headers: {
        Authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { "Content-Type": "application/openjobspec+json" }),
        ...headers,
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await r.text();
    return {
      status: r.status,
      headers: r.headers,
      body: text ? (JSON.parse(text) as Record<string, unknown>) : {},
    };
  };

  it("every answer over HTTP carries OJS-Version and X-Request-Id, once each (§3.2, §16.2)", async () => {
    // A push (201 with Location), an error from a handler, a route that does not exist, a preflight.
    const pushed = await call("POST", "/ojs/v1/jobs", { type: "t", args: [], options: { queue: "wire-h" } });
    const bad = await call("POST", "/ojs/v1/jobs", { args: [] });
    const missing = await call("GET", "/ojs/v1/no-such-route", undefined, { "X-Request-Id": "req-mine" });
    const pre = await call("OPTIONS", "/ojs/v1/jobs", undefined, {
      Origin: "https://admin.example",
      "Access-Control-Request-Method": "POST",
    });
    assert.deepEqual([pushed.status, bad.status, missing.status], [201, 400, 404]);
    assert.match(pushed.headers.get("Location") ?? "", /^\/ojs\/v1\/jobs\//);
    for (const r of [pushed, bad, missing, pre]) {
      assert.equal(r.headers.get("OJS-Version"), "1.0");
      assert.match(r.headers.get("X-Request-Id") ?? "", /^req_|^req-mine$/);
    }
    assert.equal(missing.headers.get("X-Request-Id"), "req-mine");
    assert.equal(
      bad.body.error && (bad.body.error as { request_id?: string }).request_id,
      bad.headers.get("X-Request-Id"),
    );
  });

  it("queue stats, pause and resume carry the queue's name and status (§11.2-11.4)", async () => {
    const queue = "wire-stats";
    assert.equal(
      (await call("POST", "/ojs/v1/jobs", { type: "t", args: [], options: { queue } })).status,
      201,
    );
    const ojs = { Accept: "application/openjobspec+json" };
    const stats = await call("GET", `/ojs/v1/queues/${queue}/stats`, undefined, ojs);
    assert.equal(stats.status, 200);
    // `queue` is an object with the name (the conformance suite reads queue.name; §11.2 has the name).
    assert.equal((stats.body.queue as { name: string }).name, queue);
    assert.equal((stats.body.queue as { available: number }).available, 1);
    assert.equal(stats.body.name, queue);
    assert.equal(stats.body.status, "active");
    assert.equal((stats.body.stats as { available: number }).available, 1);
    assert.equal((stats.body.stats as { name?: string }).name, undefined, "stats holds the counts only");
    assert.equal(typeof stats.body.computed_at, "string");

    const paused = await call("POST", `/ojs/v1/queues/${queue}/pause`, undefined, ojs);
    assert.equal(paused.status, 200);
    assert.equal(paused.body.name, queue);
    assert.equal(paused.body.status, "paused");
    assert.ok(!Number.isNaN(Date.parse(paused.body.paused_at as string)));
    const whilePaused = await call("GET", `/ojs/v1/queues/${queue}/stats`, undefined, ojs);
    assert.equal(whilePaused.body.status, "paused");
    assert.equal(whilePaused.body.paused_at, paused.body.paused_at);

    const resumed = await call("POST", `/ojs/v1/queues/${queue}/resume`, undefined, ojs);
    assert.deepEqual(
      { name: resumed.body.name, status: resumed.body.status },
      { name: queue, status: "active" },
    );
    assert.deepEqual(resumed.body.queue, { name: queue, paused: false });
    assert.ok(!Number.isNaN(Date.parse(resumed.body.resumed_at as string)));
  });

  it("cron: re-registering a name replaces it (201 then 200), spec names, limit and pagination", async () => {
    const first = await call("POST", "/ojs/v1/cron", {
      name: "wire-a",
      cron: "0 3 * * *",
      type: "report.build",
      args: [1],
      options: { queue: "reports" },
    });
    assert.equal(first.status, 201);
    const again = await call("POST", "/ojs/v1/cron", {
      name: "wire-a",
      expression: "0 4 * * *",
      job_template: { type: "report.build", args: [2], options: { queue: "reports" } },
    });
    assert.equal(again.status, 200);
    const job = again.body.cron_job as Record<string, unknown>;
    assert.equal(job.cron, "0 4 * * *");
    assert.equal(job.expression, "0 4 * * *");
    assert.equal(job.type, "report.build");
    assert.deepEqual(job.args, [2]);
    assert.deepEqual(job.options, { queue: "reports" });
    assert.equal(job.status, "active");
    assert.equal(job.created_at, (first.body.cron_job as { created_at: string }).created_at);

    for (const n of ["wire-b", "wire-c"]) {
      const r = await call("POST", "/ojs/v1/cron", { name: n, cron: "@daily", type: "t", args: [] });
      assert.equal(r.status, 201);
    }
    const page1 = await call("GET", "/ojs/v1/cron?limit=2");
    const names1 = (page1.body.cron_jobs as Array<{ name: string }>).map((c) => c.name);
    assert.deepEqual(names1, ["wire-a", "wire-b"]);
    const p1 = page1.body.pagination as { total: number; has_more: boolean; next_cursor?: string };
    assert.equal(p1.total, 3);
    assert.equal(p1.has_more, true);
    assert.ok(p1.next_cursor);
    const page2 = await call("GET", `/ojs/v1/cron?limit=2&cursor=${p1.next_cursor}`);
    assert.deepEqual(
      (page2.body.cron_jobs as Array<{ name: string }>).map((c) => c.name),
      ["wire-c"],
    );
    assert.equal((page2.body.pagination as { has_more: boolean }).has_more, false);
    assert.equal((page2.body.pagination as { next_cursor?: string }).next_cursor, undefined);

    const del = await call("DELETE", "/ojs/v1/cron/wire-a");
    assert.deepEqual({ deleted: del.body.deleted, name: del.body.name }, { deleted: true, name: "wire-a" });
  });

  it("every list with has_more gives a next_cursor (§17.2)", async () => {
    for (const q of ["wire-p1", "wire-p2", "wire-p3"])
      await call("POST", "/ojs/v1/jobs", { type: "t", args: [], options: { queue: q } });
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let pages = 0; pages < 50; pages++) {
      const r = await call("GET", `/ojs/v1/queues?limit=1${cursor ? `&cursor=${cursor}` : ""}`);
      const p = r.body.pagination as { has_more: boolean; next_cursor?: string };
      seen.push(...(r.body.queues as Array<{ name: string }>).map((q) => q.name));
      if (!p.has_more) break;
      assert.ok(p.next_cursor, "has_more without next_cursor");
      cursor = p.next_cursor;
    }
    for (const q of ["wire-p1", "wire-p2", "wire-p3"]) assert.ok(seen.includes(q), q);
    assert.equal(new Set(seen).size, seen.length);
  });

  it("dead letters carry discarded_at (§12.1)", async () => {
    const queue = "wire-dlq";
    const created = await call("POST", "/ojs/v1/jobs", {
      type: "t",
      args: [],
      options: { queue, retry: { max_attempts: 1, on_exhaustion: "dead_letter" } },
    });
    const id = (created.body.job as { id: string }).id;
    const fetched = await call("POST", "/ojs/v1/workers/fetch", { queues: [queue], worker_id: "w" });
    assert.equal((fetched.body.job as { id: string }).id, id);
    await call("POST", "/ojs/v1/workers/nack", { job_id: id, error: { message: "boom" } });
    const list = await waitFor(async () => {
      const r = await call("GET", `/ojs/v1/dead-letter?queue=${queue}`);
      return (r.body.jobs as unknown[]).length > 0 ? r : undefined;
    });
    const job = (list.body.jobs as Array<Record<string, unknown>>)[0]!;
    assert.equal(job.state, "discarded");
    assert.ok(!Number.isNaN(Date.parse(job.discarded_at as string)));
  });

  it("creates workflows from http-binding steps: 201, Location and steps (§14.1)", async () => {
    const batch = await call("POST", "/ojs/v1/workflows", {
      name: "onboarding",
      steps: [
        { id: "welcome", type: "email.send", args: ["a"], depends_on: [] },
        { id: "profile", type: "user.create", args: ["a"], depends_on: [] },
        { id: "confirm", type: "email.send", args: ["b"], depends_on: ["welcome", "profile"] },
      ],
      options: { queue: "wire-wf" },
    });
    assert.equal(batch.status, 201);
    const wf = batch.body.workflow as { id: string; steps: Array<Record<string, unknown>> };
    assert.equal(batch.headers.get("location"), `/ojs/v1/workflows/${wf.id}`);
    assert.deepEqual(
      wf.steps.map((s) => [s.id, s.state, s.job_id === null]),
      [
        ["welcome", "available", false],
        ["profile", "available", false],
        ["confirm", "pending", true],
      ],
    );
    assert.deepEqual(wf.steps[2]!.depends_on, ["welcome", "profile"]);

    const chain = await call("POST", "/ojs/v1/workflows", {
      name: "line",
      steps: [
        { id: "b", type: "t", args: [], depends_on: ["a"] },
        { id: "a", type: "t", args: [], depends_on: [] },
      ],
    });
    assert.equal(chain.status, 201);
    const cw = chain.body.workflow as { type: string; steps: Array<{ id: string; state: string }> };
    assert.equal(cw.type, "chain");
    assert.deepEqual(
      cw.steps.map((s) => [s.id, s.state]),
      [
        ["a", "available"],
        ["b", "pending"],
      ],
    );

    const cycle = await call("POST", "/ojs/v1/workflows", {
      name: "loop",
      steps: [
        { id: "a", type: "t", args: [], depends_on: ["b"] },
        { id: "b", type: "t", args: [], depends_on: ["a"] },
      ],
    });
    assert.equal(cycle.status, 400);

    // The ojs-workflows form still works, with steps too.
    const group = await call("POST", "/ojs/v1/workflows", {
      type: "group",
      jobs: [{ type: "t", args: [] }],
    });
    assert.equal(group.status, 201);
    assert.equal((group.body.workflow as { steps: unknown[] }).steps.length, 1);
  });

  it("holds a pending job until it is activated (§7.1, §9.5)", async () => {
    const queue = "wire-pending";
    const created = await call("POST", "/ojs/v1/jobs", {
      type: "t",
      args: [],
      options: { queue, pending: true },
    });
    assert.equal(created.status, 201);
    const id = (created.body.job as { id: string; state: string }).id;
    assert.equal((created.body.job as { state: string }).state, "pending");
    const none = await call("POST", "/ojs/v1/workers/fetch", { queues: [queue], worker_id: "w" });
    assert.deepEqual(none.body.jobs, [], "a pending job is not handed out");
    const got = await call("GET", `/ojs/v1/jobs/${id}`);
    assert.equal((got.body.job as { state: string }).state, "pending");

    const act = await call("POST", `/ojs/v1/jobs/${id}/activate`);
    assert.equal(act.status, 200);
    const job = act.body.job as Record<string, unknown>;
    assert.deepEqual([job.id, job.state, job.previous_state], [id, "available", "pending"]);
    assert.ok(!Number.isNaN(Date.parse(job.activated_at as string)));
    const fetched = await call("POST", "/ojs/v1/workers/fetch", { queues: [queue], worker_id: "w" });
    assert.equal((fetched.body.job as { id: string }).id, id);

    const again = await call("POST", `/ojs/v1/jobs/${id}/activate`);
    assert.equal(again.status, 409);
    assert.equal(
      (again.body.error as { details: { current_state: string } }).details.current_state,
      "active",
    );
    const missing = await call("POST", "/ojs/v1/jobs/019539a4-0000-7000-8000-000000000000/activate");
    assert.equal(missing.status, 404);

    // A pending job can be cancelled; a scheduled one activated goes to its time, not the lane.
    const other = await call("POST", "/ojs/v1/jobs", {
      type: "t",
      args: [],
      options: { queue, pending: true },
    });
    const cancelled = await call("DELETE", `/ojs/v1/jobs/${(other.body.job as { id: string }).id}`);
    assert.equal((cancelled.body.job as { state: string }).state, "cancelled");
    const later = await call("POST", "/ojs/v1/jobs", {
      type: "t",
      args: [],
      options: { queue, pending: true, scheduled_at: new Date(Date.now() + 3_600_000).toISOString() },
    });
    const laterId = (later.body.job as { id: string }).id;
    const activated = await call("POST", `/ojs/v1/jobs/${laterId}/activate`);
    assert.equal((activated.body.job as { state: string }).state, "scheduled");
  });

  it("refuses an unsupported OJS-Version with 422 unsupported (§3.2)", async () => {
    const r = await call("GET", "/ojs/v1/queues", undefined, { "OJS-Version": "2.0" });
    assert.equal(r.status, 422);
    assert.equal((r.body.error as { code: string }).code, "unsupported");
    assert.equal((await call("GET", "/ojs/v1/queues", undefined, { "OJS-Version": "1.0" })).status, 200);
  });

  it("prefixes codes outside the OJS vocabulary with x_ on OJS routes only (§16.3)", async () => {
    const bad = await fetch(`${srv.url}/ojs/v1/queues`, {
      headers: { Authorization: "Bearer nope-nope-nope" },
    });
    assert.equal(bad.status, 401);
    const e = ((await bad.json()) as { error: { code: string } }).error;
    assert.equal(e.code, "x_unauthorized");
    const api = await fetch(`${srv.url}/api/v1/storage`, {
      headers: { Authorization: "Bearer nope-nope-nope" },
    });
    assert.equal(((await api.json()) as { error: { code: string } }).error.code, "unauthorized");
    const missing = await call("GET", "/ojs/v1/jobs/019539a4-0000-7000-8000-000000000000");
    assert.equal((missing.body.error as { code: string }).code, "not_found");
  });

  it("answers CORS preflights; allows only configured origins (§20)", async () => {
    const pre = await fetch(`${srv.url}/ojs/v1/jobs`, {
      method: "OPTIONS",
      headers: {
        Origin: "https://admin.example",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type",
      },
    });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get("access-control-allow-origin"), "https://admin.example");
    assert.match(pre.headers.get("access-control-allow-methods") ?? "", /POST/);
    assert.match(pre.headers.get("access-control-allow-headers") ?? "", /Authorization/);
    assert.equal(pre.headers.get("access-control-max-age"), "86400");
    const other = await fetch(`${srv.url}/ojs/v1/jobs`, {
      method: "OPTIONS",
      headers: { Origin: "https://evil.example", "Access-Control-Request-Method": "POST" },
    });
    assert.equal(other.status, 204);
    assert.equal(other.headers.get("access-control-allow-origin"), null);
    const get = await call("GET", "/ojs/v1/queues", undefined, { Origin: "https://admin.example" });
    assert.equal(get.headers.get("access-control-allow-origin"), "https://admin.example");
    assert.match(get.headers.get("access-control-expose-headers") ?? "", /X-Request-Id/);
  });
});

describe("admin/reset", () => {
  let srv: RunningApiServer;
  before(async () => {
    srv = await runTestServer(h.nats.url, [{ name: "admin", token, scope: "admin" }], { enableReset: true });
  });
  after(async () => {
    await srv.close();
  });

  const post = async (path: string, body?: unknown) => {
    const r = await fetch(`${srv.url}${path}`, {
      method: "POST",
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/openjobspec+json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const b = (await r.json()) as Record<string, unknown>;
    return { status: r.status, body: b };
  };

  it("leaves nothing behind: a job id used before the reset can be used again at once", async () => {
    const id = "019539a4-0000-7000-8000-00000000aa01";
    const job = { id, type: "t", args: [], options: { queue: "wire-reset" } };
    assert.equal((await post("/ojs/v1/jobs", job)).status, 201);
    assert.equal((await post("/ojs/v1/jobs", job)).status, 409, "a duplicate before the reset");
    assert.equal((await post("/ojs/v1/admin/reset")).status, 200);
    const again = await post("/ojs/v1/jobs", job);
    assert.equal(again.status, 201, JSON.stringify(again.body));
    assert.equal((again.body.job as { id: string }).id, id);
    const batch = await post("/ojs/v1/jobs/batch", {
      jobs: [{ ...job, id: "019539a4-0000-7000-8000-00000000aa02" }],
    });
    assert.equal(batch.status, 201);
    assert.equal((await post("/ojs/v1/admin/reset")).status, 200);
    assert.equal(
      (await post("/ojs/v1/jobs/batch", { jobs: [{ ...job, id: "019539a4-0000-7000-8000-00000000aa02" }] }))
        .status,
      201,
    );
  });
});
