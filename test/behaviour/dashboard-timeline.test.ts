/**
 * The dashboard's job timeline, queue charts and workflow steps (issue 19), in a real browser (Debian's
 * chromium driven by playwright-core) against a real `jetjob start`: a job that failed once and then
 * succeeded shows both attempts with their waits, run times and progress; the queue page charts
 * completed and failed jobs per minute of that queue (labelled axes) and its wait and run time
 * p50/p95/p99 from the server's histograms; the overview lists the percentiles per queue; a chain's
 * page lists its steps with each job's type, state and link; all of it fits 390 px.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import type { Browser, Page } from "playwright-core";

import { natsLogin } from "../harness/cli.js";
import type { Dashboard } from "../harness/dashboard.js";
import { logIn, startDashboard } from "../harness/dashboard.js";
import { callJson } from "../harness/http.js";
import { waitFor } from "../harness/nats.js";

describe("web dashboard timeline and charts (chromium)", () => {
  let d: Dashboard;
  let dir: string;
  let api: string;
  let nats: string;
  let token: string;
  let browser: Browser;
  let page: Page;
  /** The job that failed its first attempt and completed its second. */
  let flaky: string;

  /** Calls the API with the admin token and answers the parsed body. */
  const call = <T = unknown>(method: string, path: string, body?: unknown): Promise<T> =>
    callJson<T>(api, token, method, path, body);
  /** Fetches the next job of `queue` as an OJS HTTP worker (none yet: undefined). */
  const fetchJob = async (queue: string) =>
    (
      await call<{ jobs: Array<{ id: string; attempt: number }> }>("POST", "/ojs/v1/workers/fetch", {
        queues: [queue],
        worker_id: "ui-tl",
      })
    ).jobs[0];
  const texts = async (sel: string) =>
    Promise.all((await page.locator(sel).all()).map(async (t) => (await t.textContent()) ?? ""));
  const numberAttr = async (sel: string, attr: string) => Number(await page.getAttribute(sel, attr));

  before(async () => {
    d = await startDashboard("jetjob-ui-timeline-");
    ({ api, nats, token, browser, page, dataDir: dir } = d);
    await logIn(page, api, token);

    // A job that fails its first attempt (after reporting progress) and completes its second.
    const { job } = await call<{ job: { id: string } }>("POST", "/ojs/v1/jobs", {
      type: "report.build",
      args: [7],
      options: {
        queue: "tl",
        retry: { max_attempts: 3, initial_interval: "PT0.2S", backoff_coefficient: 1, jitter: false },
      },
    });
    flaky = job.id;
    assert.equal((await fetchJob("tl"))?.id, flaky);
    await call("PUT", `/ojs/v1/jobs/${flaky}/progress`, { progress: 0.25, worker_id: "ui-tl" });
    await call("POST", "/ojs/v1/workers/nack", {
      job_id: flaky,
      worker_id: "ui-tl",
      error: { code: "flaky_upstream", message: "first try fails" },
    });
    const second = await waitFor(() => fetchJob("tl"), { what: "the retry to become due" });
    assert.equal(second.id, flaky);
    await call("PUT", `/ojs/v1/jobs/${flaky}/progress`, { progress: 0.5, worker_id: "ui-tl" });
    await call("POST", "/ojs/v1/workers/ack", { job_id: flaky, worker_id: "ui-tl", result: { ok: true } });
    // Another queue whose job completes at once: no failure of "tl" may show in its chart.
    await call("POST", "/ojs/v1/jobs", { type: "report.ok", args: [], options: { queue: "tl-ok" } });
    assert.ok(
      await fetchJob("tl-ok").then((j) => j && call("POST", "/ojs/v1/workers/ack", { job_id: j.id })),
    );
  });
  after(async () => {
    await d?.close();
  });

  it("job timeline: a job that failed once then succeeded shows both attempts with waits and run times", async () => {
    await page.goto(`${api}/#/jobs/${flaky}`);
    const first = '#timeline li[data-attempt="1"]';
    const second = '#timeline li[data-attempt="2"]';
    await page.waitForSelector(`${first}[data-outcome=failed]`);
    await page.waitForSelector(`${second}[data-outcome=completed]`);
    // Both attempts' waits come from the stored job.started events (ready_at), so none is missing.
    await page.waitForSelector(`${first} [data-duration=wait][data-ms]`);
    await page.waitForSelector(`${second} [data-duration=wait][data-ms]`);
    for (const a of [first, second]) {
      for (const p of ["queued", "started"])
        assert.equal(await page.isVisible(`${a} [data-point=${p}] time`), true, `${a} ${p} has a time`);
      assert.ok((await numberAttr(`${a} [data-duration=run]`, "data-ms")) >= 0, `${a} run time`);
      assert.ok((await numberAttr(`${a} [data-duration=wait]`, "data-ms")) >= 0, `${a} wait`);
    }
    assert.equal(await page.isVisible(`${first} [data-point=ended] time`), true);
    assert.equal(await page.isVisible(`${second} [data-point=completed] time`), true);
    // The retry waited for its backoff (200 ms) after the failure: its wait starts when it was due.
    const failedAt = Date.parse((await page.getAttribute(`${first} [data-point=ended] time`, "datetime"))!);
    const queuedAgain = Date.parse(
      (await page.getAttribute(`${second} [data-point=queued] time`, "datetime"))!,
    );
    assert.ok(queuedAgain >= failedAt + 150, `${queuedAgain - failedAt} ms from failure to due`);
    assert.equal(
      await numberAttr(`${second} [data-duration="retry delay"]`, "data-ms"),
      queuedAgain - failedAt,
      "the retry delay is shown between the two",
    );
    assert.match((await page.textContent(`${first} .tl-error`)) ?? "", /flaky_upstream/);
    assert.match((await page.textContent(`${first} .tl-progress`)) ?? "", /25% reported/);
    // The latest attempt shows the job's own progress: 1.0 once it completed.
    assert.equal(await page.getAttribute(`${second} .tl-progress progress`, "value"), "1");
    await page.waitForSelector('#timeline li[data-step="total"] [data-duration][data-ms]');
    assert.deepEqual(
      await Promise.all(
        (await page.locator("#timeline > li").all()).map(
          async (l) =>
            (await l.getAttribute("data-step")) ?? `attempt ${await l.getAttribute("data-attempt")}`,
        ),
      ),
      ["created", "attempt 1", "attempt 2", "total"],
    );
  });

  it("queue charts: completed and failed per minute with labelled axes; the failure is in its queue's series", async () => {
    await page.goto(`${api}/#/queues/tl`);
    const chart = "#queue-charts [data-chart=throughput]";
    await page.waitForSelector(`${chart} polyline[data-series=failed][data-total="1"]`);
    await page.waitForSelector(`${chart} polyline[data-series=completed][data-total="1"]`);
    assert.match((await page.textContent(`${chart} [data-legend=failed]`)) ?? "", /failed: 1 in 30 min/);
    const x = await texts(`${chart} svg text[data-axis=x]`);
    assert.deepEqual([x[0], x.at(-1)], ["−30 min", "now"]);
    assert.equal((await texts(`${chart} svg text[data-axis=y]`))[0], "0");
    assert.deepEqual(await texts(`${chart} svg text.axis-title`), ["time (last 30 minutes)", "jobs/min"]);

    // The other queue: its completion, none of tl's failures.
    await page.goto(`${api}/#/queues/tl-ok`);
    await page.waitForSelector(`${chart} polyline[data-series=completed][data-total="1"]`);
    assert.equal(await page.getAttribute(`${chart} polyline[data-series=failed]`, "data-total"), "0");
  });

  it("percentiles: wait and run p50/p95/p99 of the queue from the server's histograms, on the queue page and the overview", async () => {
    await page.goto(`${api}/#/queues/tl`);
    const chart = "#queue-charts [data-chart=percentiles]";
    // Two attempts: two waits and two runs observed by this server.
    await page.waitForSelector(`${chart} [data-count=run]:has-text('2 runs')`);
    await page.waitForSelector(`${chart} [data-count=wait]:has-text('2 waits')`);
    for (const g of ["wait", "run"])
      for (const p of ["p50", "p95", "p99"])
        assert.ok(
          (await numberAttr(`${chart} rect[data-group=${g}][data-series=${p}]`, "data-value")) > 0,
          `${g} ${p}`,
        );
    const waitP99 = await numberAttr(`${chart} rect[data-group=wait][data-series=p99]`, "data-value");
    const latency = await call<{ queues: Array<{ queue: string; wait: { p99_ms: number } }> }>(
      "GET",
      "/api/v1/metrics/latency?queue=tl",
    );
    assert.equal(waitP99, latency.queues[0]?.wait.p99_ms, "the bar is the API's value");
    assert.deepEqual(await texts(`${chart} svg text[data-axis=x]`), ["wait", "run"]);
    assert.deepEqual(await texts(`${chart} svg text.axis-title`), [
      "percentile of wait and run time",
      "time",
    ]);

    await page.goto(`${api}/#/`);
    await page.waitForSelector('#latency tr[data-queue="tl"]');
    const row = await texts('#latency tr[data-queue="tl"] td');
    assert.equal(row[0], "tl");
    assert.equal(row[1], "2", "waits");
    assert.equal(row[5], "2", "runs");
  });

  it("workflow page: a chain lists every step with its job's type, state and link, waiting for the step before", async () => {
    const r = await call<{ id?: string; workflow?: { id: string } }>("POST", "/ojs/v1/workflows", {
      type: "chain",
      name: "etl",
      steps: [
        { type: "etl.extract", args: [], options: { queue: "etl" } },
        { type: "etl.load", args: [], options: { queue: "etl" } },
      ],
    });
    const id = r.workflow?.id ?? r.id!;
    await page.goto(`${api}/#/workflows/${id}`);
    // A chain's steps are "0", "1", …: the second waits for the first and has no job yet.
    await page.waitForSelector('tr[data-step="0"] [data-state=available]');
    await page.waitForSelector('tr[data-step="1"] [data-state=pending]');
    assert.equal(await page.textContent('tr[data-step="0"] td:nth-child(2)'), "etl.extract");
    assert.equal(await page.textContent('tr[data-step="1"] td:nth-child(4)'), "not yet enqueued");
    assert.equal(await page.textContent('tr[data-step="1"] td:last-child'), "0");

    // The first step completes: the second is enqueued, both link to their jobs.
    const j = await waitFor(() => fetchJob("etl"), { what: "the chain's first job" });
    await call("POST", "/ojs/v1/workers/ack", { job_id: j.id, worker_id: "ui-tl", result: 1 });
    await page.waitForSelector('tr[data-step="0"] [data-state=completed]');
    await page.waitForSelector('tr[data-step="1"] [data-state=available]');
    assert.equal(await page.textContent('tr[data-step="1"] td:nth-child(2)'), "etl.load");
    assert.ok(await page.isVisible('tr[data-step="1"] a.mono'), "the second step links to its job");
    await page.click('tr[data-step="0"] a');
    await page.waitForSelector(`h1:has-text('Job ${j.id}')`);
    await page.waitForSelector('#timeline li[data-attempt="1"][data-outcome=completed]');

    await page.goto(`${api}/#/workflows`);
    await page.waitForSelector(`tr[data-workflow="${id}"]`);
    assert.equal(await page.textContent(`tr[data-workflow="${id}"] td.num`), "1/2");
  });

  it("fits 390 px: the timeline wraps and the charts scale, no page-wide horizontal overflow", async () => {
    const phone = await browser.newPage({ viewport: { width: 390, height: 844 } });
    try {
      await logIn(phone, api, token);
      for (const [hash, ready] of [
        [`#/jobs/${flaky}`, '#timeline li[data-attempt="2"] [data-duration=wait][data-ms]'],
        ["#/queues/tl", "#queue-charts [data-chart=percentiles] svg"],
        ["#/", "#overview-charts svg"],
      ] as const) {
        await phone.goto(`${api}/${hash}`);
        await phone.waitForSelector(ready);
        const width = await phone.evaluate("document.documentElement.scrollWidth");
        assert.ok((width as number) <= 390, `${hash}: page is ${String(width)} px wide`);
      }
      await phone.goto(`${api}/#/queues/tl`);
      const box = await phone.locator("#queue-charts [data-chart=throughput] svg").boundingBox();
      assert.ok(box && box.width <= 390 && box.width > 200, `chart is ${box?.width} px wide`);
    } finally {
      await phone.close();
    }
  });

  // Last: it empties the events stream the charts above count from.
  it("timeline once the events are gone: the job's own times stay, the rest reads 'not recorded'", async () => {
    const nc = await connect({ servers: nats, ...natsLogin(dir) });
    try {
      const jsm = await jetstreamManager(nc);
      const names: string[] = [];
      for await (const n of jsm.streams.names()) names.push(n);
      const events = names.find((n) => n.endsWith("_EVENTS"));
      assert.ok(events, names.join(", "));
      await jsm.streams.purge(events);
    } finally {
      await nc.close();
    }
    const first = '#timeline li[data-attempt="1"]';
    const second = '#timeline li[data-attempt="2"]';
    await page.goto(`${api}/#/jobs/${flaky}`);
    await page.waitForSelector(`${first}[data-outcome=failed]`);
    await page.waitForSelector(`${second}[data-outcome=completed]`);
    // The first attempt: its end and error are in the job's error history; when it was queued and
    // started only its events knew.
    assert.equal(await page.isVisible(`${first} [data-point=ended] time`), true);
    assert.match((await page.textContent(`${first} .tl-error`)) ?? "", /flaky_upstream/);
    for (const p of ["queued", "started"])
      assert.equal(await page.isVisible(`${first} [data-point=${p}] [data-missing]`), true, `attempt 1 ${p}`);
    for (const d of ["wait", "run"])
      assert.match((await page.textContent(`${first} [data-duration=${d}]`)) ?? "", /not recorded/, d);
    // The last attempt: started and completed are the job's own fields, so its run time is known.
    assert.equal(await page.isVisible(`${second} [data-point=started] time`), true);
    assert.equal(await page.isVisible(`${second} [data-point=completed] time`), true);
    assert.ok((await numberAttr(`${second} [data-duration=run]`, "data-ms")) >= 0);
    assert.equal(await page.isVisible(`${second} [data-point=queued] [data-missing]`), true);
    assert.match((await page.textContent(`${second} [data-duration=wait]`)) ?? "", /not recorded/);
  });
});
