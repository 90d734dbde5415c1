/**
 * `npm run screenshots`: refreshes docs/screenshots/*.png with real data. Starts `jetjob start` in a
 * temp dir, two extra agents with labels, a worker that runs a steady flow of jobs over three queues
 * (some fail into the dead-letter queue), a cron schedule and a lock, then opens every main view in
 * headless Chromium (Debian's, via playwright-core).
 */
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { chromium } from "playwright-core";

import { createAgent } from "../src/agent/index.js";
import { createClient } from "../src/client/index.js";
import { silentLogger } from "../src/core/logger.js";
import { createWorker, JobFailure } from "../src/worker/index.js";

const root = new URL("..", import.meta.url).pathname;
const out = join(root, "docs", "screenshots");
mkdirSync(out, { recursive: true });
const dir = mkdtempSync(join(tmpdir(), "jetjob-shots-"));
const server = spawn(
  process.execPath,
  [
    "--import",
    "tsx",
    join(root, "src/cli/main.ts"),
    "start",
    "--port",
    "0",
    "--nats-port",
    "0",
    "--data-dir",
    dir,
  ],
  {
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env, JETJOB_API_TOKEN: "" },
  },
);
let banner = "";
server.stdout.on("data", (c: Buffer) => (banner += c.toString()));
const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));
while (!banner.includes("Press Ctrl-C")) {
  if (server.exitCode !== null) throw new Error(banner);
  await wait(50);
}
const { api, nats } = JSON.parse(readFileSync(join(dir, "endpoints.json"), "utf8")) as {
  api: string;
  nats: string;
};
const token = readFileSync(join(dir, "admin.token"), "utf8").trim();
// jetjob start requires a NATS login; its tools find it through JETJOB_DATA_DIR (nats/local-credentials.ts).
process.env.JETJOB_DATA_DIR = dir;
const client = createClient({ url: api, token });
const agents = [
  await createAgent({
    nats,
    hostname: "web-01",
    labels: { group: "web.prod.eu", role: "web" },
    logger: silentLogger,
  }),
  await createAgent({
    nats,
    hostname: "db-01",
    labels: { group: "db.prod", role: "db" },
    logger: silentLogger,
  }),
];
let n = 0;
const worker = createWorker({
  nats,
  queues: ["email", "reports", "billing"],
  concurrency: 20,
  logger: silentLogger,
  handleSignals: false,
  handlers: {
    "email.send": async () => {
      await wait(5 + Math.random() * 30);
      return { delivered: true };
    },
    "report.build": async (job) => {
      await job.progress(0.5, "half the rows");
      await wait(20);
      // Every fifth report fails its first attempt, so the job page shows a timeline with a retry.
      if ((job.args[0] as number) % 5 === 0 && job.attempt === 1)
        throw new JobFailure("the warehouse timed out", { code: "upstream_timeout", retryable: true });
      return { rows: 1200 + (job.args[0] as number) };
    },
    "invoice.charge": (job) => {
      if ((job.args[0] as number) % 7 === 0)
        throw new JobFailure("card declined", { code: "card_declined", retryable: false });
      return { charged: true };
    },
  },
});
await worker.ready;
await client.cron.add({
  name: "nightly-report",
  expression: "0 2 * * *",
  job: { type: "report.build", args: [0], options: { queue: "reports" } },
});
const lock = await client.locks.acquire("deploy:prod", { ttlMs: 120_000, owner: "ci@build-42" });
const until = Date.now() + 20_000;
while (Date.now() < until) {
  const batch = Array.from({ length: 20 + Math.floor(Math.random() * 40) }, () => ({
    type: "email.send",
    args: [`user${n++}@example.com`],
    options: { queue: "email" },
  }));
  await client.enqueueMany(batch);
  await client.enqueue("report.build", [n], {
    queue: "reports",
    retry: { maxAttempts: 3, initialIntervalMs: 500 },
  });
  await client.enqueue("invoice.charge", [n], {
    queue: "billing",
    retry: { maxAttempts: 1, onExhaustion: "dead_letter" },
  });
  await wait(250);
}
await client.enqueueMany(
  Array.from({ length: 40 }, (_, i) => ({
    type: "report.build",
    args: [i],
    options: { queue: "reports", delayMs: 3_600_000 },
  })),
);
const fleetJob = await client.run("system.status.get", { target: "all" });
// Workflows: a chain whose steps run one after the other, and a batch with a failing job.
const chain = await client.workflows.chain(
  [
    { type: "report.build", args: [1], options: { queue: "reports" } },
    { type: "email.send", args: ["finance@example.com"], options: { queue: "email" } },
    { type: "report.build", args: [2], options: { queue: "reports", delayMs: 3_600_000 } },
  ],
  { name: "monthly-report" },
);
await client.workflows.batch(
  [
    { type: "invoice.charge", args: [14], options: { queue: "billing" } },
    { type: "invoice.charge", args: [15], options: { queue: "billing" } },
  ],
  { name: "charge-run" },
);

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium" });
const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
await page.goto(api);
await page.fill("input[name=token]", token);
await page.click("#login button[type=submit]");
await page.waitForSelector("#throughput svg");
await wait(2500);
const shot = async (name: string) => page.screenshot({ path: join(out, `${name}.png`) });
await shot("overview");
await page.goto(`${api}/#/queues/email?state=completed`);
await page.waitForSelector("tr[data-job]");
await shot("queue");
// A report that failed once and then completed: its timeline shows both attempts.
const retried = (await client.list({ queue: "reports", state: "completed", limit: 200 })).jobs.find(
  (j) => j.attempt === 2,
)!;
await page.goto(`${api}/#/jobs/${retried.id}`);
await page.waitForSelector('#timeline li[data-attempt="2"] [data-duration=wait][data-ms]');
await shot("job");
await page.goto(`${api}/#/dlq`);
await page.waitForSelector("tr[data-job]");
await shot("dead-letters");
await page.goto(`${api}/#/jobs/${fleetJob.id}`);
await page.waitForSelector("tr[data-host]");
await shot("fleet-job");
await page.goto(`${api}/#/workers`);
await page.waitForSelector("tr[data-worker]");
await shot("workers");
await page.goto(`${api}/#/queues/reports?state=scheduled`);
await page.waitForSelector("tr[data-job]");
// Select a few scheduled jobs: the bulk bar (retry, run now, cancel, delete) shows.
for (const box of (await page.$$("tr[data-job] input[type=checkbox]")).slice(0, 3)) await box.check();
await shot("queue-scheduled");
await page.setViewportSize({ width: 390, height: 844 });
await page.goto(`${api}/#/queues/email?state=completed`);
await page.waitForSelector("tr[data-job]");
await shot("queue-390px");
await page.setViewportSize({ width: 1280, height: 900 });
await page.goto(`${api}/#/workflows`);
await page.waitForSelector("tr[data-workflow]");
await shot("workflows");
await page.goto(`${api}/#/workflows/${chain.id}`);
await page.waitForSelector("tr[data-step]");
await wait(1500);
await shot("workflow");
await page.goto(`${api}/#/cron`);
await page.waitForSelector("table");
await shot("cron");
await page.goto(`${api}/#/locks`);
await page.waitForSelector("table");
await shot("locks");
await browser.close();
await lock.release();
await worker.close();
for (const a of agents) await a.close();
await client.close();
server.kill("SIGTERM");
await new Promise((r) => server.once("exit", r));
rmSync(dir, { recursive: true, force: true });
console.log(`screenshots written to ${out}`);
