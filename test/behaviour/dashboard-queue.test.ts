/**
 * The dashboard's queue page (issue 19) in a real browser (Debian's chromium driven by playwright-core)
 * against a real `jetjob start`: select jobs (one by one or all) and retry, cancel (after a
 * confirmation), run now or delete (after a confirmation) them, with the result told per job; "Run
 * now" of one scheduled job; search by state and type together and by text in args or errors, saying
 * how many jobs were searched; the started, duration and worker columns; and the page at 390 px wide.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import type { Browser, Page } from "playwright-core";

import type { Dashboard } from "../harness/dashboard.js";
import { logIn, startDashboard } from "../harness/dashboard.js";
import { sendJson } from "../harness/http.js";

interface Job {
  id: string;
  state: string;
}

describe("dashboard queue page (chromium)", () => {
  let d: Dashboard;
  let api: string;
  let token: string;
  let browser: Browser;
  let page: Page;

  /** Calls the API with the admin token; answers the status and the parsed body. */
  const send = async (method: string, path: string, body?: unknown) => {
    const r = await sendJson(api, token, method, path, body);
    return { status: r.status, body: r.body as Record<string, unknown> };
  };
  const call = async <T = Record<string, unknown>>(method: string, path: string, body?: unknown) => {
    const r = await send(method, path, body);
    assert.ok(r.status < 300, `${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body as T;
  };
  const enqueue = async (queue: string, type: string, args: unknown[] = [], options = {}) =>
    (
      await call<{ job: Job }>("POST", "/ojs/v1/jobs", {
        type,
        args,
        options: { queue, ...options },
      })
    ).job.id;
  /** Fetches the next job of `queue` as worker `worker` (it must be `id`). */
  const take = async (queue: string, id: string, worker = "ui-worker") => {
    const { jobs } = await call<{ jobs: Job[] }>("POST", "/ojs/v1/workers/fetch", {
      queues: [queue],
      worker_id: worker,
    });
    assert.equal(jobs[0]?.id, id, "the job fetched is the one expected");
  };
  /** A job that failed its only attempt with `error`. */
  const discarded = async (queue: string, type: string, args: unknown[], error: Record<string, unknown>) => {
    const id = await enqueue(queue, type, args, { retry: { max_attempts: 1 } });
    await take(queue, id);
    await call("POST", "/ojs/v1/workers/nack", { job_id: id, worker_id: "ui-worker", error });
    return id;
  };
  const completed = async (queue: string, type = "t.ok") => {
    const id = await enqueue(queue, type);
    await take(queue, id);
    await call("POST", "/ojs/v1/workers/ack", { job_id: id, worker_id: "ui-worker", result: { ok: true } });
    return id;
  };
  const stateOf = async (id: string) => {
    const r = await send("GET", `/api/v1/jobs/${id}`);
    return r.status === 404 ? "not found" : (r.body.job as Job).state;
  };
  const rows = async (p: Page = page) =>
    (
      await Promise.all((await p.locator("#jobs tr[data-job]").all()).map((r) => r.getAttribute("data-job")))
    ).sort();

  before(async () => {
    d = await startDashboard("jetjob-ui-queue-");
    ({ api, token, browser, page } = d);
    await logIn(page, api, token);
  });
  after(async () => {
    await d?.close();
  });

  it("bulk retry: select all discarded jobs, retry them; a job that cannot be retried is refused with why", async () => {
    const q = "bulk-retry";
    const failed = [
      await discarded(q, "t.fail", [1], { message: "boom" }),
      await discarded(q, "t.fail", [2], { message: "bang" }),
    ];
    const waiting = await enqueue(q, "t.wait");
    await page.goto(`${api}/#/queues/${q}?state=discarded`);
    for (const id of failed) await page.waitForSelector(`tr[data-job="${id}"]`);
    assert.equal(await page.isDisabled("#bulk-retry"), true, "nothing selected: the actions are off");
    await page.check("#select-all");
    await page.waitForSelector("#selected-count:has-text('2 selected')");
    await page.click("#bulk-retry");
    await page.waitForSelector("#bulk-result[data-succeeded='2'][data-refused='0']");
    assert.equal((await page.textContent("#bulk-result"))?.trim(), "2 retried");
    for (const id of failed) assert.equal(await stateOf(id), "available");
    for (const id of failed) await page.waitForSelector(`tr[data-job="${id}"]`, { state: "detached" });

    // One that can be retried and one that cannot: both are told.
    const third = await enqueue(q, "t.fail", [3]);
    await call("DELETE", `/ojs/v1/jobs/${third}`); // cancelled: retried as a discarded job is
    await page.goto(`${api}/#/queues/${q}`);
    await page.check(`tr[data-job="${third}"] input[data-select]`);
    await page.check(`tr[data-job="${waiting}"] input[data-select]`);
    await page.click("#bulk-retry");
    await page.waitForSelector("#bulk-result[data-succeeded='1'][data-refused='1']");
    assert.match((await page.textContent("#bulk-result p")) ?? "", /^1 retried, 1 refused:/);
    const why = (await page.textContent(`#bulk-result [data-refused-job="${waiting}"]`)) ?? "";
    assert.match(why, /is available; only discarded or cancelled jobs can be retried/);
    assert.equal(await stateOf(third), "available");
  });

  it("bulk cancel asks first: nothing changes until confirmed, then the selected jobs are cancelled", async () => {
    const q = "bulk-cancel";
    const ids = [await enqueue(q, "t.a"), await enqueue(q, "t.b")];
    const other = await enqueue(q, "t.c");
    await page.goto(`${api}/#/queues/${q}`);
    for (const id of ids) await page.check(`tr[data-job="${id}"] input[data-select]`);
    await page.click("#bulk-cancel");
    await page.waitForSelector("#bulk-confirm:has-text('Cancel 2 jobs?')");
    for (const id of ids) assert.equal(await stateOf(id), "available", "not before the confirmation");
    await page.click("#bulk-confirm-no");
    await page.waitForSelector("#bulk-confirm-yes", { state: "detached" });
    for (const id of ids) assert.equal(await stateOf(id), "available", "kept when not confirmed");

    await page.click("#bulk-cancel");
    await page.waitForSelector("#bulk-confirm:has-text('Cancel 2 jobs?')");
    // Selected after the question was asked: not part of what is confirmed.
    await page.check(`tr[data-job="${other}"] input[data-select]`);
    await page.click("#bulk-confirm-yes");
    await page.waitForSelector("#bulk-result[data-succeeded='2']");
    assert.equal((await page.textContent("#bulk-result"))?.trim(), "2 cancelled");
    for (const id of ids) await page.waitForSelector(`tr[data-job="${id}"] [data-state=cancelled]`);
    for (const id of ids) assert.equal(await stateOf(id), "cancelled");
    assert.equal(await stateOf(other), "available", "a job selected after the question is left alone");
  });

  it("bulk delete asks first, deletes finished jobs and refuses a waiting one", async () => {
    const q = "bulk-delete";
    const done = await completed(q);
    const failed = await discarded(q, "t.fail", [], { message: "x" });
    const waiting = await enqueue(q, "t.wait");
    await page.goto(`${api}/#/queues/${q}`);
    await page.waitForSelector(`tr[data-job="${done}"]`);
    await page.check("#select-all");
    await page.waitForSelector("#selected-count:has-text('3 selected')");
    await page.click("#bulk-delete");
    await page.waitForSelector("#bulk-confirm:has-text('Delete 3 jobs?')");
    assert.equal(await stateOf(done), "completed", "not before the confirmation");
    await page.click("#bulk-confirm-yes");
    await page.waitForSelector("#bulk-result[data-succeeded='2'][data-refused='1']");
    assert.match((await page.textContent("#bulk-result p")) ?? "", /^2 deleted, 1 refused:/);
    assert.match(
      (await page.textContent(`#bulk-result [data-refused-job="${waiting}"]`)) ?? "",
      /only completed, discarded or cancelled jobs can be deleted/,
    );
    for (const id of [done, failed])
      await page.waitForSelector(`tr[data-job="${id}"]`, { state: "detached" });
    assert.deepEqual(await rows(), [waiting]);
    assert.deepEqual(
      [await stateOf(done), await stateOf(failed), await stateOf(waiting)],
      ["not found", "not found", "available"],
    );
  });

  it("run now: a scheduled job's button makes it available at once", async () => {
    const q = "run-now";
    const later = new Date(Date.now() + 3_600_000).toISOString();
    const id = await enqueue(q, "t.later", [], { scheduled_at: later });
    const other = await enqueue(q, "t.later", [], { scheduled_at: later });
    await page.goto(`${api}/#/queues/${q}`);
    await page.waitForSelector(`tr[data-job="${id}"] [data-state=scheduled]`);
    assert.equal(await page.isVisible(`tr[data-job="${id}"] button[data-run-now]`), true);
    await page.click(`tr[data-job="${id}"] button[data-run-now]`);
    await page.waitForSelector(`tr[data-job="${id}"] [data-state=available]`);
    assert.equal(await stateOf(id), "available");
    assert.equal(await stateOf(other), "scheduled", "only the one clicked");
    assert.equal(
      await page.isVisible(`tr[data-job="${id}"] button[data-run-now]`),
      false,
      "no button once available",
    );

    // The selected ones, in bulk.
    await page.check(`tr[data-job="${other}"] input[data-select]`);
    await page.click("#bulk-promote");
    await page.waitForSelector("#bulk-result[data-succeeded='1']");
    assert.equal((await page.textContent("#bulk-result"))?.trim(), "1 run now");
    assert.equal(await stateOf(other), "available");
  });

  it("searches by state and type together, and by text in args or errors, saying how much was searched", async () => {
    const q = "find-more";
    const sent = await discarded(q, "mail.send", [{ to: "ada@example.com" }], {
      code: "smtp_refused",
      message: "Mailbox unavailable",
    });
    await discarded(q, "sms.send", [{ to: "+100" }], { message: "carrier down" });
    const waitingMail = await enqueue(q, "mail.send", [{ to: "bob@example.com" }]);
    await enqueue(q, "report.build", [42]);

    // State and type together: the tab keeps the search, the search keeps the tab.
    await page.goto(`${api}/#/queues/${q}?state=discarded`);
    await page.waitForSelector(`tr[data-job="${sent}"]`);
    await page.fill("#queue-search input[name=type]", "mail.send");
    await page.click("#queue-search button[type=submit]");
    await page.waitForSelector("#search-note:has-text('1 match; searched all 2 discarded jobs')");
    assert.deepEqual(await rows(), [sent]);
    await page.click(".tabs a:has-text('available')");
    await page.waitForSelector("#search-note:has-text('1 match; searched all 2 available jobs')");
    assert.deepEqual(await rows(), [waitingMail]);
    assert.equal(await page.inputValue("#queue-search input[name=type]"), "mail.send");

    // Text in the args, then in the error (any state): every job of the queue was searched.
    await page.click(".tabs a:has-text('all')");
    await page.fill("#queue-search input[name=type]", "");
    await page.fill("#queue-search input[name=text]", "BOB@example");
    await page.click("#queue-search button[type=submit]");
    await page.waitForSelector("#search-note:has-text('1 match; searched all 4 jobs')");
    assert.deepEqual(await rows(), [waitingMail]);
    await page.fill("#queue-search input[name=text]", "mailbox unavail");
    await page.click("#queue-search button[type=submit]");
    await page.waitForSelector("#search-note:has-text('1 match; searched all 4 jobs')");
    assert.deepEqual(await rows(), [sent]);
    assert.match(
      (await page.textContent(`tr[data-job="${sent}"] [data-field=error]`)) ?? "",
      /Mailbox unavailable/,
    );
  });

  it("says when a search stopped at its bound: the newest 5,000 jobs searched, More searches on", async () => {
    const q = "find-many";
    for (let b = 0; b < 6; b++) {
      const jobs = Array.from({ length: 1000 }, (_, i) => ({
        type: "t.bulk",
        args: [b * 1000 + i],
        options: { queue: q },
      }));
      await call("POST", "/ojs/v1/jobs/batch", { jobs });
    }
    await page.goto(`${api}/#/queues/${q}?text=no-such-text`);
    await page.waitForSelector("#search-note:has-text('0 matches in the newest 5,000 jobs searched')", {
      timeout: 60_000,
    });
    await page.click("#more");
    await page.waitForSelector("#search-note:has-text('0 matches; searched all 6,000 jobs')", {
      timeout: 60_000,
    });
  });

  it("shows started, duration and worker for jobs that ran, and none for one that did not", async () => {
    const q = "columns";
    const done = await completed(q);
    const running = await enqueue(q, "t.long");
    await take(q, running, "ui-worker-2");
    const waiting = await enqueue(q, "t.wait");
    await page.goto(`${api}/#/queues/${q}`);
    await page.waitForSelector(`tr[data-job="${done}"]`);
    const cell = async (id: string, f: string) =>
      ((await page.textContent(`tr[data-job="${id}"] [data-field=${f}]`)) ?? "").trim();
    assert.notEqual(await cell(done, "started"), "–");
    assert.match(await cell(done, "duration"), /^\d+(\.\d+)? m?s$/);
    assert.equal(await cell(done, "worker"), "ui-worker");
    assert.notEqual(await cell(running, "started"), "–");
    assert.equal(await cell(running, "worker"), "ui-worker-2");
    assert.match(await cell(running, "duration"), /^\d+(\.\d+)? m?s$/, "running so far");
    assert.deepEqual(
      [await cell(waiting, "started"), await cell(waiting, "duration"), await cell(waiting, "worker")],
      ["–", "–", "–"],
    );
  });

  it("is usable 390 px wide: the table scrolls in its box, the actions and confirmation fit", async () => {
    const phone = await browser.newPage({ viewport: { width: 390, height: 844 } });
    try {
      await logIn(phone, api, token);
      const q = "phone-queue";
      const id = await discarded(
        q,
        "report.build.quarterly-with-a-long-name",
        [{ customer: "a-long-customer-id" }],
        {
          message: "a rather long error message that would widen a table cell on a small screen",
        },
      );
      await phone.goto(`${api}/#/queues/${q}?text=customer`);
      await phone.waitForSelector(`tr[data-job="${id}"]`);
      await phone.check("#select-all");
      await phone.click("#bulk-delete");
      await phone.waitForSelector("#bulk-confirm-yes");
      const width = await phone.evaluate("document.documentElement.scrollWidth");
      assert.ok((width as number) <= 390, `the page is ${String(width)} px wide`);
      const table = await phone.evaluate<{ scroll: number; client: number }>(`(() => {
        const t = document.querySelector("#jobs table");
        return { scroll: t.scrollWidth, client: t.clientWidth };
      })()`);
      assert.ok(table.scroll > table.client, "the table is wider than its box and scrolls inside it");
      // The state counts sit three to a row, not one card per screen row.
      const rows = await phone.evaluate<number>(
        `new Set([...document.querySelectorAll(".cards .card")].map((c) => Math.round(c.getBoundingClientRect().top))).size`,
      );
      assert.ok(rows <= 3, `the queue's counts take ${rows} rows`);
      for (const sel of ["#bulk-confirm-yes", "#bulk-retry", "#queue-search button[type=submit]"]) {
        const box = await phone.locator(sel).boundingBox();
        assert.ok(
          box && box.x >= 0 && box.x + box.width <= 390,
          `${sel} is on screen: ${JSON.stringify(box)}`,
        );
      }
      await phone.click("#bulk-confirm-yes");
      await phone.waitForSelector("#bulk-result[data-succeeded='1']");
    } finally {
      await phone.close();
    }
  });
});
