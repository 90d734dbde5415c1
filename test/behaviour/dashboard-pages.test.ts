/**
 * The dashboard's pages and actions added for issue 19, in a real browser (Debian's chromium driven by
 * playwright-core) against a real `jetjob start`: the login screen without nav, the cron page (queue
 * from `options.queue`, add, pause, resume, trigger), the workflow pages, the dead-letter page
 * (failed-at, args, select all, bulk retry), queue search by type and id prefix, error stacks, the
 * throughput chart's axes, and every page at 390 px wide.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import type { Browser, Page } from "playwright-core";

import type { Dashboard } from "../harness/dashboard.js";
import { logIn, startDashboard } from "../harness/dashboard.js";
import { callJson } from "../harness/http.js";

describe("web dashboard pages (chromium)", () => {
  let d: Dashboard;
  let api: string;
  let token: string;
  let browser: Browser;
  let page: Page;

  /** Calls the API with the admin token and answers the parsed body. */
  const call = <T = unknown>(method: string, path: string, body?: unknown): Promise<T> =>
    callJson<T>(api, token, method, path, body);

  before(async () => {
    d = await startDashboard("jetjob-ui-pages-");
    ({ api, token, browser, page } = d);
  });
  after(async () => {
    await d?.close();
  });

  it("shows neither the nav nor Log out on the login screen", async () => {
    await page.goto(api);
    await page.waitForSelector("#login");
    assert.equal(await page.isVisible("#nav"), false, "nav hidden");
    assert.equal(await page.isVisible("#logout"), false, "Log out hidden");
    await page.fill("input[name=token]", token);
    await page.click("#login button[type=submit]");
    await page.waitForSelector("h1:has-text('Overview')");
    assert.equal(await page.isVisible("#logout"), true, "Log out shown once logged in");
  });

  it("cron page: shows the template's options.queue, adds, pauses, resumes and triggers a schedule", async () => {
    await call("POST", "/ojs/v1/cron", {
      name: "nightly",
      expression: "0 3 * * *",
      job_template: { type: "report.build", args: [1], options: { queue: "reports" } },
    });
    await page.goto(`${api}/#/cron`);
    await page.waitForSelector('tr[data-cron="nightly"] [data-cron-queue="reports"]');
    await page.waitForSelector('tr[data-cron="nightly"] [data-state=enabled]');

    await page.click('tr[data-cron="nightly"] [data-cron-action=pause]');
    await page.waitForSelector('tr[data-cron="nightly"] [data-state=paused]');
    assert.equal(
      (await call<{ cron_job: { enabled: boolean } }>("GET", "/ojs/v1/cron/nightly")).cron_job.enabled,
      false,
    );
    await page.click('tr[data-cron="nightly"] [data-cron-action=resume]');
    await page.waitForSelector('tr[data-cron="nightly"] [data-state=enabled]');

    await page.click('tr[data-cron="nightly"] [data-cron-action=trigger]');
    await page.waitForSelector("#toast:has-text('triggered nightly')");
    const stats = await call<{ stats: { available: number } }>("GET", "/ojs/v1/queues/reports/stats");
    assert.equal(stats.stats.available, 1, "the trigger enqueued one job on the template's queue");

    await page.fill("#cron-add input[name=name]", "hourly-sync");
    await page.fill("#cron-add input[name=expression]", "0 * * * *");
    await page.fill("#cron-add input[name=type]", "sync.run");
    await page.fill("#cron-add input[name=queue]", "sync");
    await page.fill("#cron-add input[name=args]", '["all"]');
    await page.click("#cron-add button[type=submit]");
    await page.waitForSelector('tr[data-cron="hourly-sync"] [data-cron-queue="sync"]');
    const added = await call<{ cron_job: { job_template: { args: unknown } } }>(
      "GET",
      "/ojs/v1/cron/hourly-sync",
    );
    assert.deepEqual(added.cron_job.job_template.args, ["all"]);
  });

  it("workflow pages: from a step's job page to the workflow's steps, and the workflows list", async () => {
    const created = await call<{
      workflow: { id: string; steps: Array<{ id: string; job_id: string | null }> };
    }>("POST", "/ojs/v1/workflows", {
      name: "signup",
      steps: [
        { id: "mail", type: "t.mail", args: [], depends_on: ["account"] },
        { id: "account", type: "t.account", args: [], depends_on: [] },
      ],
    });
    const wf = created.workflow;
    const first = wf.steps.find((x) => x.id === "account")!.job_id!;
    await page.goto(`${api}/#/jobs/${first}`);
    // The step's job page links to its workflow. Followed by its address: a click can land while the
    // job page redraws its fields (live events) and be lost, which made this test flaky.
    const link = await page.getAttribute(`[data-field=workflow] a`, "href");
    assert.equal(link, `#/workflows/${wf.id}`);
    await page.goto(`${api}/${link}`);
    await page.waitForSelector(`h1:has-text('Workflow ${wf.id}')`);
    await page.waitForSelector('tr[data-step="account"] [data-state=available]');
    await page.waitForSelector('tr[data-step="mail"] [data-state=pending]');
    const order = await Promise.all(
      (await page.locator("tr[data-step]").all()).map((r) => r.getAttribute("data-step")),
    );
    assert.deepEqual(order, ["account", "mail"], "a step comes after the steps it waits for");
    assert.equal(await page.textContent('tr[data-step="mail"] td:last-child'), "account");
    // Created with the admin token of jetjob start: its name is shown (issue 18).
    assert.equal(await page.textContent("dd[data-field='created by']"), "admin");

    // The list, newest first, from the nav: the workflow with its steps done of total, and a filter.
    await page.click("#nav a[href='#/workflows']");
    await page.waitForSelector(`tr[data-workflow="${wf.id}"]`);
    assert.equal(await page.textContent(`tr[data-workflow="${wf.id}"] td.num`), "0/2");
    await page.click("a:has-text('completed')");
    await page.waitForSelector("text=No workflows here.");
    await page.click("a:has-text('running')");
    await page.click(`tr[data-workflow="${wf.id}"] a`);
    await page.waitForSelector(`h1:has-text('Workflow ${wf.id}')`);

    // Cancel: the workflow and its unfinished steps.
    await page.click("#cancel-workflow");
    await page.waitForSelector("[data-field=state] [data-state=cancelled]");
    await page.waitForSelector('tr[data-step="account"] [data-state=cancelled]');
    assert.equal(await page.isDisabled("#cancel-workflow"), true);
  });

  /** A job that failed its only attempt into the dead-letter queue, through the OJS worker API. */
  const deadLetter = async (
    queue: string,
    args: unknown[],
    error: Record<string, unknown>,
  ): Promise<string> => {
    const { job } = await call<{ job: { id: string } }>("POST", "/ojs/v1/jobs", {
      type: "test.fails",
      args,
      options: { queue, retry: { max_attempts: 1, on_exhaustion: "dead_letter" } },
    });
    const { jobs } = await call<{ jobs: Array<{ id: string }> }>("POST", "/ojs/v1/workers/fetch", {
      queues: [queue],
      worker_id: "ui-test",
    });
    assert.equal(jobs[0]?.id, job.id);
    await call("POST", "/ojs/v1/workers/nack", { job_id: job.id, worker_id: "ui-test", error });
    return job.id;
  };

  it("dead-letter page: failed-at and args columns, select all, retry the selected", async () => {
    const ids = [
      await deadLetter("dlq-a", ["alpha", 1], { message: "boom" }),
      await deadLetter("dlq-a", ["beta", 2], { message: "bang" }),
    ];
    await page.goto(`${api}/#/dlq`);
    for (const id of ids) await page.waitForSelector(`tr[data-job="${id}"]`);
    assert.match((await page.textContent(`tr[data-job="${ids[0]}"] [data-field=args]`)) ?? "", /alpha/);
    assert.notEqual((await page.textContent(`tr[data-job="${ids[0]}"] [data-field=failed-at]`))?.trim(), "–");
    await page.check("#select-all");
    for (const id of ids) assert.equal(await page.isChecked(`tr[data-job="${id}"] input[data-select]`), true);
    await page.click("#retry-selected");
    for (const id of ids) await page.waitForSelector(`tr[data-job="${id}"]`, { state: "detached" });
    const stats = await call<{ stats: { available: number } }>("GET", "/ojs/v1/queues/dlq-a/stats");
    assert.equal(stats.stats.available, 2, "both retried onto their queue");
  });

  it("queue page: searches by job type (exact or prefix*) and by the start of a job id", async () => {
    const enqueue = async (type: string) =>
      (
        await call<{ job: { id: string } }>("POST", "/ojs/v1/jobs", {
          type,
          args: [],
          options: { queue: "find" },
        })
      ).job.id;
    const mail1 = await enqueue("mail.send");
    const mail2 = await enqueue("mail.bounce");
    const sms = await enqueue("sms.send");
    const rows = async () =>
      (
        await Promise.all(
          (await page.locator("#jobs tr[data-job]").all()).map((r) => r.getAttribute("data-job")),
        )
      ).sort();
    await page.goto(`${api}/#/queues/find`);
    await page.waitForSelector(`tr[data-job="${sms}"]`);

    await page.fill("#queue-search input[name=type]", "mail.send");
    await page.click("#queue-search button[type=submit]");
    await page.waitForSelector("#search-note:has-text('1 match')");
    assert.deepEqual(await rows(), [mail1]);

    await page.fill("#queue-search input[name=type]", "mail.*");
    await page.click("#queue-search button[type=submit]");
    await page.waitForSelector("#search-note:has-text('2 matches')");
    assert.deepEqual(await rows(), [mail1, mail2].sort());

    await page.fill("#queue-search input[name=type]", "");
    await page.fill("#queue-search input[name=id]", sms.slice(0, -3));
    await page.click("#queue-search button[type=submit]");
    await page.waitForSelector("#search-note:has-text('1 match')");
    assert.deepEqual(await rows(), [sms]);
  });

  it("job page: an error's stack trace and details are shown, also in the retry history", async () => {
    const id = await deadLetter("errs", [], {
      code: "handler_error",
      message: "boom",
      details: { stack: "Error: boom\n    at handle (worker.js:12:7)", input: "row 7" },
    });
    await page.goto(`${api}/#/jobs/${id}`);
    await page.waitForSelector("#error-message:has-text('boom')");
    assert.match((await page.textContent("#error-stack pre.stack")) ?? "", /at handle \(worker\.js:12:7\)/);
    assert.match((await page.textContent("#error-stack")) ?? "", /row 7/);
  });

  it("overview: the throughput chart has labelled axes (jobs/s over the last minutes)", async () => {
    await page.goto(`${api}/#/`);
    await page.waitForSelector("#throughput svg", { timeout: 10_000 });
    const texts = async (sel: string) =>
      Promise.all((await page.locator(sel).all()).map(async (t) => (await t.textContent()) ?? ""));
    const x = await texts("#throughput svg text[data-axis=x]");
    assert.equal(x.at(-1), "now");
    assert.ok(x.includes("−3 min"), x.join(", "));
    const y = await texts("#throughput svg text[data-axis=y]");
    assert.equal(y[0], "0");
    assert.ok(y.length >= 3, y.join(", "));
    const titles = await texts("#throughput svg text.axis-title");
    assert.deepEqual(titles, ["time (last 3 minutes)", "jobs/s"]);
  });

  it("is usable 390 px wide: no page-wide horizontal overflow on any page, the nav reachable", async () => {
    const phone = await browser.newPage({ viewport: { width: 390, height: 844 } });
    try {
      await logIn(phone, api, token);
      const { job } = await call<{ job: { id: string } }>("POST", "/ojs/v1/jobs", {
        type: "report.build.quarterly-with-a-long-name",
        args: [{ customer: "a-customer-with-a-rather-long-identifier", range: "2026-01-01..2026-03-31" }],
        options: { queue: "phone" },
      });
      await call("POST", "/ojs/v1/cron", {
        name: "phone-nightly",
        expression: "0 3 * * *",
        job_template: { type: "report.build", args: [], options: { queue: "phone" } },
      });
      const pages: Array<[string, string]> = [
        ["#/", "#throughput svg"],
        ["#/queues/phone", "#jobs table"],
        [`#/jobs/${job.id}`, "dl.fields"],
        ["#/workers", "h1"],
        ["#/fleet", "#run"],
        ["#/dlq", "h1"],
        ["#/cron", "#crons table"],
        ["#/workflows", "h1"],
        ["#/locks", "h1"],
      ];
      for (const [hash, ready] of pages) {
        await phone.goto(`${api}/${hash}`);
        await phone.waitForSelector(ready);
        const width = await phone.evaluate("document.documentElement.scrollWidth");
        assert.ok((width as number) <= 390, `${hash}: page is ${String(width)} px wide`);
      }
      // Every nav link can be reached (the nav scrolls inside itself).
      await phone.locator("#nav a[href='#/locks']").scrollIntoViewIfNeeded();
      assert.equal(await phone.isVisible("#nav a[href='#/locks']"), true);
    } finally {
      await phone.close();
    }
  });
});
