/**
 * The dashboard's fleet safety (issue 16), in a real browser (Debian's chromium driven by
 * playwright-core) against a real server and real agents: the Run form previews the hosts a target
 * selects and those it leaves out (with why); a modify operation on more than one host creates no job
 * until "Run on N hosts" is clicked; a query, or a modify on one host, runs at once; a target that
 * selects no host cannot be run. The job page shows who created the job, the hosts left out and the
 * hosts' output lines (the last 200 per host).
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { after, before, describe, it } from "node:test";

import type { Browser, Page } from "playwright-core";
import { chromium } from "playwright-core";

import type { Agent } from "../../src/agent/agent.js";
import { createAgent } from "../../src/agent/agent.js";
import { silentLogger } from "../../src/core/logger.js";
import { appendEvent } from "../../src/fleet/timeline.js";
import type { TimelineEvent } from "../../src/fleet/types.js";
import type { RunningApiServer } from "../../src/server/run.js";
import { runTestServer } from "../harness/app.js";
import { useNats, waitFor } from "../harness/nats.js";

const chromiumPath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const nats = useNats();
const token = "dashboard-fleet-token-0123456789";

interface JobJson {
  id: string;
  op: string;
  status: string;
  hosts: string[];
  left_out?: Array<{ host: string; state: string; reason: string }>;
  created_by?: string;
}

describe("dashboard: fleet runs are previewed and confirmed (chromium)", () => {
  let srv: RunningApiServer;
  let browser: Browser;
  let page: Page;
  const agents: Agent[] = [];
  /** Runs of app.restart per host: the agents' own count of what really ran. */
  const restarts = new Map<string, number>();

  const call = async <T>(method: string, path: string): Promise<T> => {
    const r = await fetch(`${srv.url}${path}`, { method, headers: { authorization: `Bearer ${token}` } });
    assert.ok(r.ok, `${method} ${path}: HTTP ${r.status}`);
    return (await r.json()) as T;
  };
  const jobs = async () => (await call<{ jobs: JobJson[] }>("GET", "/api/v1/jobs?limit=500")).jobs;

  const start = async (hostname: string, restart: boolean) =>
    agents.push(
      await createAgent({
        nats: nats.nats.url,
        hostname,
        labels: { group: "web" },
        builtins: false,
        logger: silentLogger,
        timings: { heartbeatMs: 200 },
        handlers: {
          "app.version.get": { kind: "query", handler: () => "1.2.3" },
          ...(restart
            ? {
                "app.restart": {
                  kind: "modify" as const,
                  handler: () => {
                    restarts.set(hostname, (restarts.get(hostname) ?? 0) + 1);
                    return "restarted";
                  },
                },
              }
            : {}),
        },
      }),
    );

  /** The Run form with these fields, once the preview for them is drawn. */
  const fillRun = async (op: string, target: string) => {
    await page.goto(`${srv.url}/#/fleet`);
    await page.waitForSelector("#run");
    await page.fill("#run input[name=op]", op);
    await page.fill("#run input[name=target]", target);
  };

  before(async () => {
    assert.ok(existsSync(chromiumPath), `chromium not found at ${chromiumPath} (apt-get install chromium)`);
    srv = await runTestServer(nats.nats.url, [{ name: "ops-admin", token, scope: "admin" }], {
      fleet: { timings: { ackWindowMs: 1000, livenessCheckMs: 100 } },
    });
    await start("web-1", true);
    await start("web-2", true);
    await start("web-3", false); // matches group:web but does not offer app.restart
    await waitFor(
      async () =>
        (await call<{ hosts: string[] }>("GET", "/api/v1/targets/resolve?target=group:web")).hosts.length ===
        3,
      { what: "three agents online" },
    );
    browser = await chromium.launch({ executablePath: chromiumPath });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(srv.url);
    await page.fill("input[name=token]", token);
    await page.click("#login button[type=submit]");
    await page.waitForSelector("h1:has-text('Overview')");
  });
  after(async () => {
    await browser?.close();
    for (const a of agents) await a.close();
    await srv?.close();
  });

  it("previews the hosts a target selects and those it leaves out, with why", async () => {
    await fillRun("app.restart", "group:web");
    await page.waitForSelector("#preview [data-preview-host=web-1]");
    await page.waitForSelector("#preview [data-preview-host=web-2]");
    await page.waitForSelector(
      "#preview-left-out tr[data-left-out=web-3]:has-text('does not offer app.restart')",
    );
    assert.equal(await page.locator("#preview [data-preview-host]").count(), 2);
    assert.equal(await page.textContent("#preview-kind"), "modify");
    assert.equal(await page.isDisabled("#run button[type=submit]"), false);

    // A target that selects no host: the reasons are shown and Run is disabled.
    await page.fill("#run input[name=target]", "L@ghost-1,web-3");
    await page.waitForSelector("#preview-left-out tr[data-left-out=ghost-1]:has-text('unknown')");
    await page.waitForSelector("#preview-left-out tr[data-left-out=web-3]:has-text('does not offer')");
    await page.waitForSelector("#preview-summary:has-text('No host can run this job')");
    assert.equal(await page.locator("#preview [data-preview-host]").count(), 0);
    assert.equal(await page.isDisabled("#run button[type=submit]"), true);
  });

  it("asks before a modify operation runs on more than one host, and creates no job until confirmed", async () => {
    const before = (await jobs()).length;
    await fillRun("app.restart", "group:web");
    await page.waitForSelector("#preview [data-preview-host=web-2]");
    await page.click("#run button[type=submit]");
    await page.waitForSelector("#confirm-run:has-text('Run on 2 hosts')");
    assert.deepEqual(
      await page.locator("#confirm [data-confirm-host]").allTextContents(),
      ["web-1", "web-2"],
      "the question lists the hosts",
    );
    // The form's work is done once the question is shown: no job was created, nothing ran.
    assert.equal((await jobs()).length, before, "no job before the confirmation");
    assert.equal(restarts.size, 0);
    assert.match(page.url(), /#\/fleet$/);

    // Cancel: still nothing.
    await page.click("#confirm-cancel");
    await page.waitForSelector("#confirm-run", { state: "detached" });
    assert.equal((await jobs()).length, before, "no job after cancelling");

    // Editing the form drops an open question.
    await page.click("#run button[type=submit]");
    await page.waitForSelector("#confirm-run");
    await page.fill("#run input[name=args]", '{"graceful":true}');
    await page.waitForSelector("#confirm-run", { state: "detached" });
    assert.equal((await jobs()).length, before, "no job after editing");

    await page.click("#run button[type=submit]");
    await page.click("#confirm-run");
    await page.waitForURL(/#\/jobs\/[^/]+$/);
    const id = decodeURIComponent(page.url().split("#/jobs/")[1]!);
    const after = await jobs();
    assert.equal(after.length, before + 1, "the confirmation created one job");
    assert.equal(after[0]!.id, id);
    assert.deepEqual([...after[0]!.hosts].sort(), ["web-1", "web-2"]);
    await waitFor(() => restarts.get("web-1") === 1 && restarts.get("web-2") === 1, {
      what: "app.restart to run once on web-1 and web-2",
    });

    // The job page: who created it, the host left out and why.
    await page.waitForSelector("tr[data-host=web-1] [data-state=completed]", { timeout: 15_000 });
    await page.waitForSelector(
      "#left-out-table tr[data-left-out=web-3]:has-text('does not offer app.restart')",
    );
    await page.waitForSelector("#hosts tr[data-host=web-3] [data-state=skipped]");
    const { job } = await call<{ job: JobJson }>("GET", `/api/v1/jobs/${id}`);
    assert.equal(await page.textContent("dd[data-field='created by']"), job.created_by ?? "–");
  });

  it("runs a query, or a modify on one host, without asking (the preview still shown)", async () => {
    const before = (await jobs()).length;
    await fillRun("app.version.get", "group:web");
    await page.waitForSelector("#preview [data-preview-host=web-3]");
    assert.equal(await page.textContent("#preview-kind"), "query");
    await page.click("#run button[type=submit]");
    await page.waitForURL(/#\/jobs\/[^/]+$/);
    await page.waitForSelector("h1:has-text('Fleet job')");

    await fillRun("app.restart", "web-2");
    await page.waitForSelector("#preview [data-preview-host=web-2]");
    assert.equal(await page.textContent("#preview-kind"), "modify");
    await page.click("#run button[type=submit]");
    await page.waitForURL(/#\/jobs\/[^/]+$/);
    await waitFor(() => restarts.get("web-2") === 2, { what: "app.restart to run on web-2 again" });
    assert.equal(restarts.get("web-1"), 1, "web-1 untouched");
    assert.equal((await jobs()).length, before + 2);
  });

  it("a slow answer for a page left behind does not draw over the next page", async () => {
    const [job] = await jobs();
    assert.ok(job, "a fleet job from the tests above");
    // Hold the job page's read until the user has moved on to the Run form.
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    let held!: () => void;
    const holding = new Promise<void>((r) => (held = r));
    const url = `${srv.url}/api/v1/jobs/${encodeURIComponent(job.id)}`;
    await page.route(url, async (route) => {
      held();
      await released;
      await route.continue();
    });
    try {
      await page.goto(`${srv.url}/#/jobs/${job.id}`);
      await holding;
      await page.goto(`${srv.url}/#/fleet`);
      await page.waitForSelector("#run input[name=op]");
      const answered = page.waitForResponse((r) => r.url() === url);
      release();
      await answered;
      // Let the page run whatever the answer would trigger (two round trips through its event loop).
      await page.evaluate(() => new Promise((r) => setTimeout(r, 0)));
      await page.evaluate(() => new Promise((r) => setTimeout(r, 0)));
      assert.equal(await page.locator("#run input[name=op]").count(), 1, "the Run form is still shown");
      assert.equal(await page.locator(`h1:has-text('${job.id}')`).count(), 0, "the job page did not draw");
      assert.equal(await page.textContent("h1"), "Fleet jobs");
    } finally {
      await page.unroute(url);
    }
  });

  it("lists a scheduled fleet job's operation and target on the cron page", async () => {
    const r = await fetch(`${srv.url}/ojs/v1/cron`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({
        name: "versions",
        expression: "0 3 * * *",
        job_template: { op: "app.version.get", target: "group:web" },
      }),
    });
    assert.equal(r.status, 201, await r.text());
    await page.goto(`${srv.url}/#/cron`);
    const row = await page.waitForSelector("tr:has(td:text-is('versions'))");
    assert.match((await row.textContent()) ?? "", /app\.version\.get on group:web/);
    await fetch(`${srv.url}/ojs/v1/cron/versions`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${token}` },
    });
  });

  it("shows each host's output lines on the job page, the last 200", async () => {
    const [job] = (await jobs()).filter((j) => j.op === "app.restart" && j.hosts.length === 2);
    assert.ok(job);
    const ev = (h: string, d: Record<string, unknown>, e = "output") =>
      ({ e, h, at: Date.now(), ep: 1, d }) as unknown as TimelineEvent;
    for (let i = 0; i < 250; i += 50) {
      const lines = Array.from({ length: 50 }, (_, k) => `out line ${i + k}`);
      await appendEvent(srv.engine.ctx, job.id, ev("web-1", { stream: "stdout", lines }));
    }
    await appendEvent(
      srv.engine.ctx,
      job.id,
      ev("web-1", { stream: "stderr", lines: ["warn: slow"], dropped_lines: 7 }),
    );
    await appendEvent(srv.engine.ctx, job.id, ev("web-2", { progress: { done: 3, total: 4 } }, "progress"));

    await page.goto(`${srv.url}/#/jobs/${job.id}`);
    const web1 = "#output [data-output-host=web-1]";
    await page.waitForSelector(`${web1} pre .stderr:has-text('warn: slow')`);
    assert.equal(await page.locator(`${web1} pre .line`).count(), 200);
    const text = (await page.textContent(`${web1} pre`)) ?? "";
    assert.ok(text.includes("out line 249\n"), "the newest lines are shown");
    assert.ok(!text.includes("out line 50\n"), "the oldest lines are dropped");
    await page.waitForSelector(`${web1}:has-text('the last 200 of 251 lines; 7 more lines not stored')`);
    await page.waitForSelector(`#output [data-output-host=web-2]:has-text('progress: {"done":3,"total":4}')`);
    // Output and progress events are not repeated row by row in the timeline.
    assert.equal(await page.locator("#timeline td:text-is('output')").count(), 0);
    assert.equal(await page.locator("#timeline td:text-is('progress')").count(), 0);
    await page.waitForSelector("#timeline:has-text('7 output or progress events')");
  });
});
