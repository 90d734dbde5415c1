/**
 * The OJS Admin API extension (`/ojs/v1/admin/*`, spec ojs-admin-api; dead letters: ojs-dead-letter)
 * against a real API server, in the shapes the official admin UI and OJS CLI read: queues with
 * counts, pause/resume, the job list with filters and page/per_page, job detail, cancel, retry, bulk
 * operations with the confirm interlock, workers, statistics and their history, the dead-letter queue,
 * and the scopes each route needs.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";

import type { RunningApiServer } from "../../src/server/run.js";
import { runTestServer } from "../harness/app.js";
import { useNats, waitFor } from "../harness/nats.js";

const h = useNats();
const tokens = {
  read: "tok-read-admin-api-7d1e0c3b",
  write: "tok-write-admin-api-2f9a6b8e",
  admin: "tok-admin-admin-api-9c4d5e1f",
};
type Body = Record<string, unknown> & {
  items?: Array<Record<string, unknown>>;
  pagination?: Record<string, unknown>;
};

describe("OJS Admin API", () => {
  let srv: RunningApiServer;
  const uniq = () => randomBytes(4).toString("hex");
  before(async () => {
    srv = await runTestServer(h.nats.url, [
      { name: "read", token: tokens.read, scope: "read" },
      { name: "write", token: tokens.write, scope: "write" },
      { name: "admin", token: tokens.admin, scope: "admin" },
    ]);
  });
  after(async () => {
    await srv.close();
  });

  const call = async (
    method: string,
    path: string,
    body?: unknown,
    token: string = tokens.admin,
  ): Promise<{ status: number; body: Body }> => {
    const r = await fetch(`${srv.url}${path}`, {
      method,
      headers: {
        Authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { "Content-Type": "application/json" }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await r.text();
    return { status: r.status, body: text ? (JSON.parse(text) as Body) : {} };
  };
  const enqueue = async (queue: string, type = "t.admin", options: Record<string, unknown> = {}) => {
    const r = await call("POST", "/ojs/v1/jobs", { type, args: [1], options: { queue, ...options } });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    return (r.body.job as { id: string }).id;
  };
  const fetchOne = async (queue: string, workerId = "w-admin") => {
    const r = await call("POST", "/ojs/v1/workers/fetch", { queues: [queue], count: 1, worker_id: workerId });
    assert.equal(r.status, 200);
    return (r.body.jobs as Array<{ id: string }>)[0];
  };

  it("lists queues with counts, shows one with its configuration, pauses and resumes it (§6)", async () => {
    const queue = `adm-q-${uniq()}`;
    await enqueue(queue);
    await enqueue(queue);
    const list = await call("GET", "/ojs/v1/admin/queues?page=1&per_page=100", undefined, tokens.read);
    assert.equal(list.status, 200);
    const item = list.body.items!.find((q) => q.name === queue);
    assert.ok(item, "the queue is listed");
    assert.equal(item.state, "active");
    assert.equal(item.paused, false);
    assert.deepEqual(
      {
        available: (item.counts as Record<string, number>).available,
        active: (item.counts as Record<string, number>).active,
      },
      { available: 2, active: 0 },
    );
    assert.ok((list.body.pagination!.total as number) >= 1);
    assert.equal(list.body.pagination!.page, 1);
    assert.equal(list.body.pagination!.per_page, 100);

    const detail = await call("GET", `/ojs/v1/admin/queues/${queue}`, undefined, tokens.read);
    assert.equal(detail.status, 200);
    assert.equal(detail.body.name, queue);
    assert.equal((detail.body.counts as Record<string, number>).available, 2);
    assert.equal(typeof detail.body.configuration, "object");
    assert.equal((await call("GET", `/ojs/v1/admin/queues/adm-none-${uniq()}`)).status, 404);

    assert.equal(
      (await call("POST", `/ojs/v1/admin/queues/${queue}/pause`, undefined, tokens.write)).status,
      403,
    );
    const paused = await call("POST", `/ojs/v1/admin/queues/${queue}/pause`);
    assert.equal(paused.status, 200);
    assert.equal(paused.body.paused, true);
    assert.ok(!Number.isNaN(Date.parse(paused.body.paused_at as string)));
    assert.equal(await fetchOne(queue), undefined, "a paused queue hands out nothing");
    assert.equal((await call("GET", `/ojs/v1/admin/queues/${queue}`)).body.state, "paused");
    const resumed = await call("POST", `/ojs/v1/admin/queues/${queue}/resume`);
    assert.equal(resumed.status, 200);
    assert.equal(resumed.body.paused, false);
    assert.ok(await fetchOne(queue), "a resumed queue hands out jobs again");
  });

  it("lists jobs with queue, state, type and page filters; shows, cancels and retries one (§7)", async () => {
    const queue = `adm-j-${uniq()}`;
    const a = await enqueue(queue, "mail.send");
    const b = await enqueue(queue, "mail.digest");
    const c = await enqueue(queue, "report.build");
    const ids = (r: { body: Body }) => r.body.items!.map((j) => j.id);

    const all = await call("GET", `/ojs/v1/admin/jobs?queue=${queue}`, undefined, tokens.read);
    assert.equal(all.status, 200);
    assert.deepEqual(ids(all), [c, b, a], "newest first");
    assert.equal(all.body.pagination!.total, 3);
    assert.deepEqual(ids(await call("GET", `/ojs/v1/admin/jobs?queue=${queue}&type=mail.send`)), [a]);
    assert.deepEqual(ids(await call("GET", `/ojs/v1/admin/jobs?queue=${queue}&type=mail.*`)), [b, a]);
    const p2 = await call("GET", `/ojs/v1/admin/jobs?queue=${queue}&page=2&per_page=2`);
    assert.deepEqual(ids(p2), [a]);
    assert.deepEqual(
      [p2.body.pagination!.page, p2.body.pagination!.per_page, p2.body.pagination!.total],
      [2, 2, 3],
    );
    // Without a queue: every queue's jobs, these among them.
    const everywhere = await call("GET", `/ojs/v1/admin/jobs?type=report.build&per_page=100`);
    assert.ok(ids(everywhere).includes(c));
    assert.equal((await call("GET", `/ojs/v1/admin/jobs?state=bogus`)).status, 400);

    const detail = await call("GET", `/ojs/v1/admin/jobs/${a}`, undefined, tokens.read);
    assert.equal(detail.status, 200);
    assert.deepEqual(
      [detail.body.id, detail.body.type, detail.body.queue, detail.body.state],
      [a, "mail.send", queue, "available"],
    );
    assert.deepEqual(detail.body.args, [1]);
    assert.deepEqual(detail.body.meta, {}, "meta is always an object (the admin UI reads its keys)");
    assert.deepEqual(detail.body.errors, [], "errors is always an array");
    assert.equal((detail.body.metadata as Record<string, unknown>).created_at, detail.body.created_at);
    assert.equal((await call("GET", `/ojs/v1/admin/jobs/019539a4-0000-7000-8000-000000000000`)).status, 404);

    assert.equal((await call("POST", `/ojs/v1/admin/jobs/${a}/cancel`, undefined, tokens.read)).status, 403);
    const cancelled = await call("POST", `/ojs/v1/admin/jobs/${a}/cancel`, undefined, tokens.write);
    assert.equal(cancelled.status, 200);
    assert.equal(cancelled.body.state, "cancelled");
    assert.deepEqual(ids(await call("GET", `/ojs/v1/admin/jobs?queue=${queue}&state=cancelled`)), [a]);
    const retried = await call("POST", `/ojs/v1/admin/jobs/${a}/retry`, undefined, tokens.write);
    assert.equal(retried.status, 200);
    assert.equal(retried.body.state, "available");
    assert.equal(
      (await call("POST", `/ojs/v1/admin/jobs/${b}/retry`)).status,
      409,
      "an available job is not retried",
    );
  });

  it("sorts by scheduled_at or priority, ascending or descending, as the admin UI's Scheduled page asks", async () => {
    const queue = `adm-o-${uniq()}`;
    const at = (min: number) => new Date(Date.now() + min * 60_000).toISOString();
    const late = await enqueue(queue, "t.admin", { scheduled_at: at(30), priority: 5 });
    const early = await enqueue(queue, "t.admin", { scheduled_at: at(10), priority: 1 });
    const mid = await enqueue(queue, "t.admin", { scheduled_at: at(20), priority: 9 });
    const ids = async (q: string) => {
      const r = await call("GET", `/ojs/v1/admin/jobs?queue=${queue}&state=scheduled&${q}`);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      return r.body.items!.map((j) => j.id);
    };
    assert.deepEqual(await ids("per_page=50&sort=scheduled_at&order=asc"), [early, mid, late]);
    assert.deepEqual(await ids("sort=scheduled_at"), [late, mid, early]);
    assert.deepEqual(await ids("sort=priority&order=desc"), [mid, late, early]);
    assert.deepEqual(await ids("sort=created_at&order=asc&per_page=2&page=2"), [mid]);
    assert.equal((await call("GET", `/ojs/v1/admin/jobs?sort=args`)).status, 400);
  });

  it("bulk cancel and retry need confirm: true and act on what the filter matches (§8)", async () => {
    const queue = `adm-b-${uniq()}`;
    const jobs = [await enqueue(queue), await enqueue(queue), await enqueue(queue, "other")];
    for (const confirm of [false, undefined, "yes"]) {
      const r = await call("POST", "/ojs/v1/admin/jobs/bulk/cancel", {
        filter: { queue },
        ...(confirm === undefined ? {} : { confirm }),
      });
      assert.equal(r.status, 400, `confirm ${String(confirm)}`);
    }
    assert.equal(
      (
        await call("POST", "/ojs/v1/admin/jobs/bulk/retry", {
          filter: { state: "discarded" },
          confirm: false,
        })
      ).status,
      400,
    );
    assert.equal(
      (await call("GET", `/ojs/v1/admin/jobs?queue=${queue}&state=available`)).body.items!.length,
      3,
      "nothing changed",
    );

    const cancelled = await call(
      "POST",
      "/ojs/v1/admin/jobs/bulk/cancel",
      { filter: { queue, type: "t.admin" }, confirm: true },
      tokens.write,
    );
    assert.equal(cancelled.status, 200);
    assert.deepEqual(
      [cancelled.body.action, cancelled.body.matched, cancelled.body.succeeded, cancelled.body.failed],
      ["cancel", 2, 2, 0],
    );
    const states = async () => {
      const r = await call("GET", `/ojs/v1/admin/jobs?queue=${queue}`);
      return Object.fromEntries(r.body.items!.map((j) => [String(j.id), String(j.state)]));
    };
    assert.deepEqual(await states(), {
      [jobs[0]!]: "cancelled",
      [jobs[1]!]: "cancelled",
      [jobs[2]!]: "available",
    });

    const retried = await call("POST", "/ojs/v1/admin/jobs/bulk/retry", { filter: { queue }, confirm: true });
    assert.equal(retried.status, 200);
    assert.deepEqual([retried.body.matched, retried.body.succeeded, retried.body.retried], [2, 2, 2]);
    assert.deepEqual(await states(), {
      [jobs[0]!]: "available",
      [jobs[1]!]: "available",
      [jobs[2]!]: "available",
    });
    // The OJS CLI's form: job ids instead of a filter; a job that cannot be retried is reported.
    const byIds = await call("POST", "/ojs/v1/admin/jobs/bulk/retry", { job_ids: [jobs[2]], confirm: true });
    assert.deepEqual([byIds.body.matched, byIds.body.succeeded, byIds.body.failed], [1, 0, 1]);
    assert.equal((byIds.body.errors as Array<{ job_id: string }>)[0]!.job_id, jobs[2]);
  });

  it("serves the OJS CLI's job list and bulk paths (GET /ojs/v1/jobs, POST /ojs/v1/jobs/bulk/*)", async () => {
    const queue = `adm-c-${uniq()}`;
    const [a, b] = [await enqueue(queue, "cli.a"), await enqueue(queue, "cli.b")];
    const list = await call("GET", `/ojs/v1/jobs?queue=${queue}&limit=25`, undefined, tokens.read);
    assert.equal(list.status, 200);
    assert.deepEqual(
      (list.body.jobs as Array<{ id: string }>).map((j) => j.id),
      [b, a],
    );
    assert.equal(list.body.total, 2);
    const typed = await call("GET", `/ojs/v1/jobs?queue=${queue}&type=cli.a`);
    assert.deepEqual(
      (typed.body.jobs as Array<{ id: string }>).map((j) => j.id),
      [a],
    );
    // Named jobs run as sent; a filter needs confirm, as on the Admin API.
    assert.equal(
      (await call("POST", "/ojs/v1/jobs/bulk/cancel", { filter: { queue, state: "available" } })).status,
      400,
    );
    assert.equal((await call("POST", "/ojs/v1/jobs/bulk/cancel", { job_ids: [a] }, tokens.read)).status, 403);
    const cancelled = await call("POST", "/ojs/v1/jobs/bulk/cancel", { job_ids: [a, b] }, tokens.write);
    assert.equal(cancelled.status, 200);
    assert.deepEqual([cancelled.body.cancelled, cancelled.body.failed], [2, 0]);
    const retried = await call("POST", "/ojs/v1/jobs/bulk/retry", { filter: { queue }, confirm: true });
    assert.deepEqual([retried.body.retried, retried.body.failed], [2, 0]);
    assert.equal((await call("POST", "/ojs/v1/jobs/bulk/delete", { job_ids: [a] })).status, 404);
  });

  it("serves the dead-letter queue: list, stats, retry, delete and purge (§11, ojs-dead-letter §10)", async () => {
    const queue = `adm-d-${uniq()}`;
    const dead: string[] = [];
    for (const type of ["dlq.a", "dlq.a", "dlq.b"]) {
      const id = await enqueue(queue, type, { retry: { max_attempts: 1, on_exhaustion: "dead_letter" } });
      assert.equal((await fetchOne(queue))!.id, id);
      const nack = await call("POST", "/ojs/v1/workers/nack", {
        job_id: id,
        error: { code: "handler_error", type: "SmtpDown", message: "no" },
      });
      assert.equal(nack.status, 200);
      dead.push(id);
    }
    const list = await call("GET", `/ojs/v1/admin/dead-letter?queue=${queue}`, undefined, tokens.read);
    assert.equal(list.status, 200);
    assert.deepEqual(new Set(list.body.items!.map((j) => j.id)), new Set(dead));
    assert.equal(list.body.pagination!.total, 3);
    assert.equal(list.body.pagination!.page, 1);
    const typed = await call("GET", `/ojs/v1/admin/dead-letter?queue=${queue}&type=dlq.b`);
    assert.deepEqual(
      typed.body.items!.map((j) => j.id),
      [dead[2]],
    );

    const stats = await call("GET", "/ojs/v1/admin/dead-letter/stats", undefined, tokens.read);
    assert.equal(stats.status, 200);
    assert.ok((stats.body.total as number) >= 3);
    assert.equal((stats.body.by_queue as Record<string, number>)[queue], 3);
    assert.ok(((stats.body.by_error_type as Record<string, number>).SmtpDown ?? 0) >= 3);
    assert.deepEqual(
      (await call("GET", "/ojs/v1/dead-letter/stats", undefined, tokens.read)).body.by_queue,
      stats.body.by_queue,
      "the data plane's path (ojs-dead-letter §10.1, the OJS CLI's) answers the same",
    );

    const retried = await call("POST", `/ojs/v1/admin/dead-letter/${dead[0]}/retry`, undefined, tokens.write);
    assert.equal(retried.status, 200);
    assert.equal(retried.body.state, "available");
    assert.equal(
      (await call("DELETE", `/ojs/v1/admin/dead-letter/${dead[1]}`, undefined, tokens.write)).status,
      204,
    );
    assert.equal((await call("DELETE", `/ojs/v1/admin/dead-letter/${dead[1]}`)).status, 404);
    assert.equal(
      (await call("DELETE", "/ojs/v1/admin/dead-letter", { queue })).status,
      400,
      "purge needs confirm",
    );
    assert.equal(
      (await call("DELETE", "/ojs/v1/admin/dead-letter", { queue, confirm: true }, tokens.write)).status,
      403,
    );
    const purged = await call("DELETE", "/ojs/v1/admin/dead-letter", { queue, confirm: true });
    assert.equal(purged.status, 200);
    assert.equal(purged.body.purged_count, 1);
    assert.equal((await call("GET", `/ojs/v1/admin/dead-letter?queue=${queue}`)).body.items!.length, 0);
  });

  it("counts totals, throughput and history from the stored events (§10)", async () => {
    const queue = `adm-s-${uniq()}`;
    const id = await enqueue(queue);
    assert.equal((await fetchOne(queue))!.id, id);
    assert.equal(
      (await call("POST", "/ojs/v1/workers/ack", { job_id: id, result: { ok: true } })).status,
      200,
    );
    await enqueue(queue);

    const stats = await waitFor(
      async () => {
        const r = await call("GET", `/ojs/v1/admin/stats?queue=${queue}`, undefined, tokens.read);
        const t = r.body.throughput as { processed_per_minute: number; enqueued_per_min: number };
        return r.status === 200 && t.processed_per_minute >= 1 && t.enqueued_per_min >= 2 ? r : undefined;
      },
      { what: "the completed job in the last minute's throughput" },
    );
    assert.equal(stats.body.queues, 1);
    assert.equal(typeof stats.body.workers, "number");
    assert.deepEqual(
      [
        (stats.body.jobs as Record<string, number>).completed,
        (stats.body.jobs as Record<string, number>).available,
      ],
      [1, 1],
    );
    assert.equal((stats.body.throughput as Record<string, number>).failed_per_minute, 0);
    const row = (await call("GET", "/ojs/v1/admin/queues?per_page=100")).body.items!.find(
      (q) => q.name === queue,
    )!;
    assert.deepEqual(
      row.throughput,
      { processed_per_minute: 1, failed_per_minute: 0 },
      "the queue's last minute",
    );
    assert.equal(typeof (row.latency_ms as { p50: unknown }).p50, "number");
    const all = await call("GET", "/ojs/v1/admin/stats");
    assert.ok((all.body.queues as number) >= 1);
    for (const k of ["available", "active", "completed", "discarded"])
      assert.equal(typeof (all.body.jobs as Record<string, unknown>)[k], "number");

    const history = await call(
      "GET",
      `/ojs/v1/admin/stats/history?period=1m&since=10m&queue=${queue}`,
      undefined,
      tokens.read,
    );
    assert.equal(history.status, 200);
    assert.equal(history.body.period, "1m");
    const data = history.body.data as Array<Record<string, number>>;
    assert.ok(data.length >= 10 && data.length <= 11, `${data.length} points`);
    const sum = (k: string) => data.reduce((a, p) => a + (p[k] ?? 0), 0);
    assert.deepEqual([sum("enqueued"), sum("completed"), sum("processed"), sum("failed")], [2, 1, 1, 0]);
    assert.ok(
      data.some((p) => typeof p.latency_p50_ms === "number"),
      "the started job's wait",
    );
    assert.deepEqual(history.body.data_points, data, "the OJS CLI's name of the same points");
    assert.ok(Date.parse(history.body.retained_since as string) <= Date.now(), "where stored events begin");
    assert.equal((await call("GET", "/ojs/v1/admin/stats/history?period=7m")).status, 400);

    const config = await call("GET", "/ojs/v1/admin/system/config", undefined, tokens.read);
    assert.equal(config.status, 200);
    assert.equal(config.body.backend, "nats-jetstream");
    assert.ok(!JSON.stringify(config.body).includes("tok-"), "no tokens in the configuration");
    assert.deepEqual((await call("GET", "/ojs/v1/admin/config")).body.retention, config.body.retention);
  });

  it("lists workers with a summary; quiets an HTTP worker through its next heartbeat; no deregistering while online (§9)", async () => {
    const queue = `adm-w-${uniq()}`;
    const workerId = `w-${uniq()}`;
    await fetchOne(queue, workerId);
    const listed = await waitFor(
      async () => {
        const r = await call("GET", "/ojs/v1/admin/workers", undefined, tokens.read);
        return r.body.items!.find((w) => w.id === workerId);
      },
      { what: "the HTTP worker in the registry" },
    );
    assert.equal(listed.state, "running");
    assert.deepEqual(listed.queues, [queue]);
    assert.equal(typeof listed.last_heartbeat_at, "string");
    const list = await call("GET", "/ojs/v1/admin/workers");
    const summary = list.body.summary as { total: number; running: number; quiet: number; stale: number };
    assert.equal(summary.total, list.body.items!.length);
    assert.equal(summary.total, summary.running + summary.quiet + summary.stale);
    assert.equal(list.body.pagination!.total, summary.total);

    const one = await call("GET", `/ojs/v1/admin/workers/${workerId}`, undefined, tokens.read);
    assert.equal(one.status, 200);
    assert.equal(one.body.id, workerId);
    assert.equal((await call("GET", `/ojs/v1/admin/workers/nobody-${uniq()}`)).status, 404);
    const beat = async (id: string) =>
      (await call("POST", "/ojs/v1/workers/heartbeat", { worker_id: id, active_jobs: 0 }, tokens.write)).body;
    assert.deepEqual(
      [(await beat(workerId)).state, (await beat(workerId)).directive],
      ["running", "continue"],
    );
    assert.equal(
      (await call("POST", `/ojs/v1/admin/workers/${workerId}/quiet`, undefined, tokens.write)).status,
      403,
    );
    const quiet = await call("POST", `/ojs/v1/admin/workers/${workerId}/quiet`);
    assert.equal(quiet.status, 200);
    assert.equal(quiet.body.state, "quiet");
    // Delivered in the answer to the worker's next heartbeat (§9.3), to that worker only.
    assert.deepEqual([(await beat(workerId)).state, (await beat(workerId)).directive], ["quiet", "quiet"]);
    assert.equal((await beat(`other-${uniq()}`)).state, "running");
    const shown = (await call("GET", "/ojs/v1/admin/workers")).body.items!.find((w) => w.id === workerId)!;
    assert.deepEqual([shown.state, shown.directive], ["quiet", "quiet"]);
    // The OJS CLI's `workers --resume` takes it back.
    const resumed = await call("POST", "/ojs/v1/admin/workers/directive", { directive: "resume" });
    assert.equal(resumed.status, 200);
    assert.equal((await beat(workerId)).state, "running");
    assert.equal((await call("POST", `/ojs/v1/admin/workers/nobody-${uniq()}/quiet`)).status, 404);
    assert.equal((await call("DELETE", `/ojs/v1/admin/workers/${workerId}`)).status, 409);
    assert.equal(
      (await call("DELETE", `/ojs/v1/admin/workers/${workerId}`, undefined, tokens.write)).status,
      403,
    );
  });
  it("maintenance mode pauses the running queues and resumes only those; jobs are still accepted (§12.1)", async () => {
    const open = `adm-m-${uniq()}`;
    const held = `adm-m-${uniq()}`;
    await enqueue(open);
    await enqueue(held);
    assert.equal((await call("POST", `/ojs/v1/admin/queues/${held}/pause`)).status, 200);
    assert.deepEqual((await call("GET", "/ojs/v1/admin/system/maintenance", undefined, tokens.read)).body, {
      enabled: false,
      maintenance: false,
    });
    assert.equal(
      (await call("POST", "/ojs/v1/admin/system/maintenance", { enabled: true }, tokens.write)).status,
      403,
    );
    assert.equal(
      (await call("POST", "/ojs/v1/admin/system/maintenance", { enabled: true, duration: "soon" })).status,
      400,
    );
    const on = await call("POST", "/ojs/v1/admin/system/maintenance", {
      enabled: true,
      reason: "db migration",
      duration: "15m",
    });
    assert.equal(on.status, 200);
    assert.deepEqual([on.body.enabled, on.body.maintenance, on.body.reason], [true, true, "db migration"]);
    const ends = Date.parse(on.body.ends_at as string) - Date.parse(on.body.started_at as string);
    assert.ok(Math.abs(ends - 15 * 60_000) < 5000, `ends ${ends} ms after it started`);
    assert.ok((on.body.paused_queues as string[]).includes(open));
    assert.ok(!(on.body.paused_queues as string[]).includes(held), "a queue paused before is not the mode's");
    assert.equal(await fetchOne(open), undefined, "nothing is handed out");
    await enqueue(open); // still accepted
    // The OJS CLI's path answers the same.
    const cli = await call("GET", "/ojs/v1/admin/maintenance");
    assert.deepEqual(
      [cli.body.enabled, cli.body.reason, cli.body.started_at],
      [true, "db migration", on.body.started_at],
    );

    const off = await call("POST", "/ojs/v1/admin/maintenance", { enabled: false });
    assert.equal(off.status, 200);
    assert.equal(off.body.enabled, false);
    assert.ok(await fetchOne(open), "the queue runs again");
    assert.equal(
      (await call("GET", `/ojs/v1/admin/queues/${held}`)).body.paused,
      true,
      "the queue paused before stays paused",
    );
    assert.equal((await call("GET", "/ojs/v1/admin/system/maintenance")).body.enabled, false);
  });
  it("admin/reset also ends maintenance mode and takes worker directives back", async () => {
    const test = await runTestServer(h.nats.url, [{ name: "admin", token: tokens.admin, scope: "admin" }], {
      enableReset: true,
    });
    try {
      const at = async (method: string, path: string, body?: unknown) => {
        const r = await fetch(`${test.url}${path}`, {
          method,
          headers: { Authorization: `Bearer ${tokens.admin}`, "Content-Type": "application/json" },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        });
        return (await r.json()) as Record<string, unknown>;
      };
      const queue = `adm-r-${uniq()}`;
      const workerId = `w-${uniq()}`;
      await at("POST", "/ojs/v1/jobs", { type: "t", args: [], options: { queue } });
      await at("POST", "/ojs/v1/workers/fetch", { queues: [queue], count: 1, worker_id: workerId });
      await waitFor(async () =>
        ((await at("GET", "/ojs/v1/admin/workers")).items as Array<{ id: string }>).some(
          (w) => w.id === workerId,
        ),
      );
      await at("POST", `/ojs/v1/admin/workers/${workerId}/quiet`);
      await at("POST", "/ojs/v1/admin/system/maintenance", { enabled: true, reason: "before reset" });
      const beat = () => at("POST", "/ojs/v1/workers/heartbeat", { worker_id: workerId });
      assert.equal((await beat()).state, "quiet");
      assert.equal((await at("GET", "/ojs/v1/admin/system/maintenance")).enabled, true);

      assert.deepEqual(await at("POST", "/ojs/v1/admin/reset"), { reset: true });
      assert.equal((await at("GET", "/ojs/v1/admin/system/maintenance")).enabled, false);
      assert.equal((await beat()).state, "running");
    } finally {
      await test.close();
    }
  });
});
