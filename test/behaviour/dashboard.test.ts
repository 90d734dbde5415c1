/**
 * The web dashboard in a real browser (Debian's chromium driven by playwright-core) against a real
 * `jetjob start`: log in with a token, watch a job go from available to completed live (no page
 * reload), see a running job's progress bar, retry a dead letter, run a fleet job and see its per-host
 * rows. (The screenshots in
 * docs/screenshots/ come from `npm run screenshots`, which seeds more data.)
 */
import assert from "node:assert/strict";
import { hostname } from "node:os";
import { after, before, describe, it } from "node:test";

import type { Page } from "playwright-core";

import { createClient } from "../../src/client/index.js";
import type { Client } from "../../src/client/index.js";
import { silentLogger } from "../../src/core/logger.js";
import type { Worker } from "../../src/worker/index.js";
import { createWorker } from "../../src/worker/index.js";
import { natsLogin } from "../harness/cli.js";
import type { Dashboard } from "../harness/dashboard.js";
import { startDashboard } from "../harness/dashboard.js";
import { waitFor } from "../harness/nats.js";

describe("web dashboard (chromium)", () => {
  let d: Dashboard;
  let dir: string;
  let api: string;
  let nats: string;
  let token: string;
  let page: Page;
  let client: Client;
  const workers: Worker[] = [];

  before(async () => {
    d = await startDashboard("jetjob-ui-");
    ({ api, nats, token, page, dataDir: dir } = d);
    client = createClient({ url: api, token });
  });
  after(async () => {
    for (const w of workers) await w.close();
    await client?.close();
    await d?.close();
  });

  const startWorker = async (
    queue: string,
    handler: (args: unknown[], attempt: number, id: string) => unknown,
  ) => {
    const w = createWorker({
      nats,
      natsOptions: natsLogin(dir),
      queues: [queue],
      logger: silentLogger,
      handleSignals: false,
      handlers: { "demo.task": (job) => handler(job.args, job.attempt, job.id) },
    });
    await w.ready;
    workers.push(w);
    return w;
  };

  it("asks for a token, refuses a wrong one, and logs in with the right one", async () => {
    await page.goto(api);
    await page.fill("input[name=token]", "jj_wrong_token_000000");
    await page.click("#login button[type=submit]");
    await page.waitForSelector("#login-error:has-text('refused')");
    await page.fill("input[name=token]", token);
    await page.click("#login button[type=submit]");
    await page.waitForSelector("h1:has-text('Overview')");
    await page.waitForSelector("#agents >> text=" + hostname());
  });

  it("shows a job going from available to completed live, without reloading the page", async () => {
    const job = await client.enqueue("demo.task", ["hello"], { queue: "web" });
    await page.goto(`${api}/#/queues/web`);
    await page.waitForSelector(`tr[data-job="${job.id}"] [data-state=available]`);
    await page.evaluate(() => ((globalThis as unknown as { marker: number }).marker = 42));
    await startWorker("web", (args) => ({ echoed: args[0] }));
    await page.waitForSelector(`tr[data-job="${job.id}"] [data-state=completed]`, { timeout: 15_000 });
    assert.equal(
      await page.evaluate(() => (globalThis as unknown as { marker?: number }).marker),
      42,
      "no page reload",
    );

    // The job page updates live too, and shows the result.
    const second = await client.enqueue("demo.task", ["later"], { queue: "web-later" });
    await page.click("nav a[href='#/']");
    await page.goto(`${api}/#/jobs/${second.id}`);
    await page.waitForSelector("dd[data-field=state] [data-state=available]");
    await startWorker("web-later", () => ({ ok: true }));
    await page.waitForSelector("dd[data-field=state] [data-state=completed]", { timeout: 15_000 });
    await page.waitForSelector("#result");
    assert.deepEqual(JSON.parse((await page.textContent("#result")) ?? "null"), { ok: true });
    await page.goto(api);
    await page.waitForSelector("tr[data-queue=web] [data-count=completed]:has-text('1')");
    await page.waitForSelector("#throughput svg", { timeout: 10_000 });
  });

  it("shows a running job's progress as a bar on its page, live", async () => {
    let release: () => void = () => undefined;
    const held = new Promise<void>((r) => (release = r));
    const w = createWorker({
      nats,
      natsOptions: natsLogin(dir),
      queues: ["web-progress"],
      logger: silentLogger,
      handleSignals: false,
      handlers: {
        "demo.task": async (job) => {
          await job.progress(0.4, "rows 40/100");
          await held;
          return "ok";
        },
      },
    });
    await w.ready;
    workers.push(w);
    const job = await client.enqueue("demo.task", [], { queue: "web-progress" });
    await page.goto(`${api}/#/jobs/${job.id}`);
    await page.waitForSelector("dd[data-field=progress] progress[value='0.4']", { timeout: 15_000 });
    await page.waitForSelector("dd[data-field=progress]:has-text('40% rows 40/100')");
    release();
    // Completed: the bar is full, without reloading the page.
    await page.waitForSelector("dd[data-field=progress] progress[value='1']", { timeout: 15_000 });
  });

  it("retries a dead letter from the dead-letter page", async () => {
    const seen = new Set<string>();
    await startWorker("dlq-demo", (_args, _attempt, id) => {
      if (!seen.has(id)) {
        seen.add(id);
        throw new Error("first try always fails");
      }
      return "second time lucky";
    });
    const job = await client.enqueue("demo.task", [1], {
      queue: "dlq-demo",
      retry: { maxAttempts: 1, onExhaustion: "dead_letter" },
    });
    await waitFor(async () => (await client.get(job.id)).state === "discarded", {
      what: "job dead-lettered",
    });
    await page.goto(`${api}/#/dlq`);
    const row = `tr[data-job="${job.id}"]`;
    await page.waitForSelector(row);
    await page.click(`${row} button.retry`);
    await page.waitForSelector(row, { state: "detached" });
    await waitFor(async () => (await client.get(job.id)).state === "completed", {
      what: "retried job completed",
    });
    assert.equal((await client.get(job.id)).result, "second time lucky");
  });

  it("runs a fleet job and shows its per-host rows", async () => {
    await page.goto(`${api}/#/fleet`);
    await page.fill("#run input[name=op]", "system.uptime.get");
    await page.fill("#run input[name=target]", "all");
    await page.click("#run button[type=submit]");
    await page.waitForSelector(`tr[data-host="${hostname()}"] [data-state=completed]`, { timeout: 15_000 });
    await page.waitForSelector("#timeline >> text=finished");
    await page.goto(`${api}/#/workers`);
    await page.waitForSelector(`tr[data-worker="${hostname()}"] [data-state=ready]`);
  });

  it("lists queue workers on the Workers page and flags a queue with jobs but no worker", async () => {
    const w = await startWorker("ui-consumed", () => "ok");
    await page.goto(`${api}/#/workers`);
    await page.waitForSelector(`#queue-workers tr[data-queue-worker="${w.id}"] >> text=ui-consumed`);
    const job = await client.enqueue("demo.task", [0], { queue: "ui-consumed" }); // a queue exists once it has a job
    await client.waitFor(job.id, { timeoutMs: 10_000 });
    await page.goto(`${api}/#/queues/ui-consumed`);
    await page.waitForSelector("#consumers[data-consumers='1']");

    await client.enqueue("demo.task", [1], { queue: "ui-orphan" });
    await page.goto(`${api}/#/queues/ui-orphan`);
    await page.waitForSelector("#consumers[data-consumers='0'] >> text=no worker takes this queue");
    await page.goto(api);
    await page.waitForSelector("tr[data-queue=ui-orphan] [data-count=consumers] >> text=⚠");
  });
});
