/**
 * Operating a cron schedule over HTTP (issue 17: the official OJS CLI's `cron --detail/--update/
 * --trigger/--history/--pause/--resume` and the admin UI's Crons page): a paused schedule does not
 * fire and shows `enabled: false`, `status: paused`, no `next_run_at`; resuming fires again; trigger
 * enqueues the template once; history lists the jobs of the fired ticks; `/ojs/v1/crons` pages with
 * the UI's names. Ticks are driven with `cronTick` at chosen times (a yearly schedule: the server's
 * own scheduler never fires it during the test).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { createClient } from "../../src/client/client.js";
import type { RunningApiServer } from "../../src/server/run.js";
import { cronTick } from "../../src/store/features/cron.js";
import { callApi, runTestServer } from "../harness/app.js";
import { useNats } from "../harness/nats.js";

const h = useNats();
const token = "tok-admin-ojs-cron-control-7a1c";
const yearStart = (y: number) => Date.UTC(y, 0, 1);

describe("OJS cron pause, resume, trigger, history", () => {
  let srv: RunningApiServer;
  const y1 = yearStart(new Date().getUTCFullYear() + 1);
  const y2 = yearStart(new Date().getUTCFullYear() + 2);
  const api = (method: string, path: string, body?: unknown) => callApi(srv.url, token, method, path, body);

  before(async () => {
    srv = await runTestServer(h.nats.url, [{ name: "admin", token, scope: "admin" }]);
    const r = await api("POST", "/ojs/v1/cron", {
      name: "yearly",
      expression: "0 0 1 1 *",
      job_template: { type: "report.yearly", args: [1], options: { queue: "reports" } },
    });
    assert.equal(r.status, 201, JSON.stringify(r.body));
  });
  after(async () => {
    await srv.close();
  });

  it("history lists the job of a fired tick", async () => {
    await cronTick(srv.engine.svc, y1 + 1000);
    const r = await api("GET", "/ojs/v1/cron/yearly/history?limit=5");
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const ex = r.body.executions as Array<Record<string, unknown>>;
    assert.equal(ex.length, 1);
    assert.equal(ex[0]!.scheduled_at, new Date(y1).toISOString().replace(".000Z", "Z"));
    assert.equal(ex[0]!.state, "available");
    const job = await api("GET", `/ojs/v1/jobs/${String(ex[0]!.job_id)}`);
    assert.equal((job.body.job as { queue: string }).queue, "reports");
  });

  it("a paused schedule does not fire; resumed, it fires again", async () => {
    const p = await api("POST", "/ojs/v1/cron/yearly/pause");
    assert.equal(p.status, 200, JSON.stringify(p.body));
    assert.equal(p.body.enabled, false);
    assert.equal(p.body.status, "paused");
    assert.equal(p.body.next_run_at, undefined);
    assert.equal((p.body.cron_job as { enabled: boolean }).enabled, false);
    await cronTick(srv.engine.svc, y2 + 1000);
    const d = await api("GET", "/ojs/v1/cron/yearly");
    assert.equal(d.body.last_run_at, new Date(y1).toISOString().replace(".000Z", "Z"));
    const r = await api("POST", "/ojs/v1/cron/yearly/resume");
    assert.equal(r.body.enabled, true);
    assert.equal(r.body.status, "active");
    assert.ok(typeof r.body.next_run_at === "string");
    await cronTick(srv.engine.svc, y2 + 1000);
    const h2 = await api("GET", "/ojs/v1/cron/yearly/history");
    assert.equal((h2.body.executions as unknown[]).length, 2);
  });

  it("trigger enqueues the template once, now", async () => {
    const r = await api("POST", "/ojs/v1/cron/yearly/trigger");
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const job = r.body.job as { id: string; type: string; queue: string; meta: Record<string, unknown> };
    assert.equal(r.body.job_id, job.id);
    assert.equal(job.type, "report.yearly");
    assert.equal(job.queue, "reports");
    assert.equal(job.meta.cron, "yearly");
    assert.equal(job.meta.cron_trigger, "manual");
    assert.equal((await api("POST", "/ojs/v1/cron/nope/trigger")).status, 404);
    assert.equal((await api("POST", "/ojs/v1/cron/nope/pause")).status, 404);
  });

  it("/ojs/v1/crons pages with id, schedule, queue; PATCH {enabled} toggles; PATCH keeps run state", async () => {
    const l = await api("GET", "/ojs/v1/crons?page=1&per_page=10");
    assert.equal(l.status, 200, JSON.stringify(l.body));
    const item = (l.body.items as Array<Record<string, unknown>>)[0]!;
    assert.equal(item.id, "yearly");
    assert.equal(item.schedule, "0 0 1 1 *");
    assert.equal(item.queue, "reports");
    assert.equal(item.type, "report.yearly");
    assert.deepEqual(l.body.pagination, { total: 1, page: 1, per_page: 10, total_pages: 1, has_more: false });
    const off = await api("PATCH", "/ojs/v1/crons/yearly", { enabled: false });
    assert.equal(off.status, 200, JSON.stringify(off.body));
    assert.equal(off.body.enabled, false);
    const offList = (await api("GET", "/ojs/v1/cron?enabled=false")).body.cron_jobs as unknown[];
    assert.equal(offList.length, 1);
    assert.equal(((await api("GET", "/ojs/v1/cron?enabled=true")).body.cron_jobs as unknown[]).length, 0);
    const ch = await api("PATCH", "/ojs/v1/cron/yearly", { expression: "0 0 1 7 *", enabled: true });
    assert.equal(ch.status, 200, JSON.stringify(ch.body));
    assert.equal(ch.body.schedule, "0 0 1 7 *");
    assert.equal(ch.body.last_run_at, new Date(y2).toISOString().replace(".000Z", "Z"));
    assert.equal((await api("PATCH", "/ojs/v1/cron/yearly", { enabled: "no" })).status, 400);
  });

  it("the client pauses, resumes and triggers over HTTP and over NATS", async () => {
    for (const client of [createClient({ url: srv.url, token }), createClient({ nats: h.nats.url })]) {
      try {
        assert.equal((await client.cron.pause("yearly")).enabled, false);
        assert.equal((await client.cron.resume("yearly")).status, "active");
        const job = await client.cron.trigger("yearly");
        assert.equal(job.type, "report.yearly");
        assert.equal(job.queue, "reports");
      } finally {
        await client.close();
      }
    }
  });
});
