/**
 * Prometheus `/metrics` on a running API server: lifecycle counters and latency histograms fed by the
 * events that a NATS-direct worker publishes, queue gauges from the queue statistics, fleet gauges and
 * counters from an agent running one fleet job, HTTP metrics by route pattern, and the token check.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";

import type { Agent } from "../../src/agent/agent.js";
import { createAgent } from "../../src/agent/agent.js";
import type { Client } from "../../src/client/client.js";
import { createClient } from "../../src/client/client.js";
import { silentLogger } from "../../src/core/logger.js";
import type { RunningApiServer } from "../../src/server/run.js";
import { runTestServer } from "../harness/app.js";
import type { Worker } from "../../src/worker/index.js";
import { createWorker, JobFailure } from "../../src/worker/index.js";
import { useNats, waitFor } from "../harness/nats.js";

const h = useNats();
const tokens = { admin: "metrics-admin-token-123456", reader: "metrics-read-token-123456" };

/** Parses the text exposition format into `series → value` (series as written, labels included). */
function parseMetrics(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const sp = line.lastIndexOf(" ");
    out.set(line.slice(0, sp), Number(line.slice(sp + 1)));
  }
  return out;
}

describe("Prometheus metrics", () => {
  let srv: RunningApiServer;
  let client: Client;
  let agent: Agent;
  let worker: Worker;
  const queue = `m-${randomUUID().slice(0, 8)}`;
  const flaky = `${queue}-flaky`;
  const N = 5;

  /** `null`: without a token. */
  const scrape = async (token: string | null = tokens.reader) =>
    fetch(`${srv.url}/metrics`, token === null ? {} : { headers: { Authorization: `Bearer ${token}` } });
  const metrics = async () => parseMetrics(await (await scrape()).text());

  before(async () => {
    srv = await runTestServer(
      h.nats.url,
      [
        { name: "admin", token: tokens.admin, scope: "admin" },
        { name: "reader", token: tokens.reader, scope: "read" },
      ],
      {
        fleet: { timings: { ackWindowMs: 1000, livenessCheckMs: 100 } },
      },
    );
    client = createClient({ url: srv.url, token: tokens.admin });
    agent = await createAgent({
      nats: h.nats.url,
      hostname: "metrics-host-01",
      builtins: false,
      logger: silentLogger,
      timings: { heartbeatMs: 200 },
      handlers: { "test.echo": { kind: "query", handler: (job) => ({ host: job.hostname }) } },
    });
    const attempts = new Map<string, number>();
    worker = createWorker({
      nats: h.nats.url,
      queues: [queue, flaky],
      handleSignals: false,
      logger: silentLogger,
      handlers: {
        "test.ok": (job) => job.args[0],
        "test.flaky": (job) => {
          attempts.set(job.id, (attempts.get(job.id) ?? 0) + 1);
          if (job.args[0] === "never" || attempts.get(job.id) === 1) throw new JobFailure("not yet");
          return "ok";
        },
      },
    });
    await worker.ready;
  });
  after(async () => {
    await worker.close();
    await agent.close();
    await client.close();
    await srv.close();
  });

  it("needs a token with the read scope", async () => {
    const none = await scrape(null);
    assert.equal(none.status, 401);
    await none.body?.cancel();
    const wrong = await scrape("not-a-token-at-all");
    assert.equal(wrong.status, 401);
    await wrong.body?.cancel();
    const ok = await scrape();
    assert.equal(ok.status, 200);
    assert.match(ok.headers.get("Content-Type") ?? "", /^text\/plain; version=0\.0\.4/);
    const text = await ok.text();
    assert.match(text, /^# HELP jetjob_jobs_enqueued_total .*every server counts every event/m);
    assert.match(text, /^process_cpu_user_seconds_total \d/m);
  });

  it("counts jobs, attempts and latencies from the lifecycle events", async () => {
    const jobs = await Promise.all(
      Array.from({ length: N }, (_, i) => client.enqueue("test.ok", [i], { queue })),
    );
    const retried = await client.enqueue("test.flaky", ["once"], {
      queue: flaky,
      retry: { maxAttempts: 2, initialIntervalMs: 10, jitter: false },
    });
    const discarded = await client.enqueue("test.flaky", ["never"], {
      queue: flaky,
      retry: { maxAttempts: 1 },
    });
    for (const j of jobs)
      assert.equal((await client.waitFor(j.id, { timeoutMs: 10_000 })).state, "completed");
    assert.equal((await client.waitFor(retried.id, { timeoutMs: 10_000 })).state, "completed");
    assert.equal((await client.waitFor(discarded.id, { timeoutMs: 10_000 })).state, "discarded");

    const q = `{queue="${queue}"}`;
    const f = `{queue="${flaky}"}`;
    // Events arrive asynchronously and the queue gauges are cached for a second: poll until settled.
    const m = await waitFor(
      async () => {
        const m = await metrics();
        const settled =
          (m.get(`jetjob_job_run_seconds_count${q}`) ?? 0) >= N &&
          (m.get(`jetjob_job_run_seconds_count${f}`) ?? 0) >= 3 &&
          (m.get(`jetjob_jobs{queue="${queue}",state="completed"}`) ?? 0) >= N &&
          (m.get(`jetjob_jobs{queue="${flaky}",state="discarded"}`) ?? 0) >= 1;
        return settled ? m : undefined;
      },
      { intervalMs: 50, what: "metrics to show every job" },
    );
    assert.equal(m.get(`jetjob_jobs_enqueued_total${q}`), N);
    assert.equal(m.get(`jetjob_jobs_completed_total${q}`), N);
    assert.equal(m.get(`jetjob_job_wait_seconds_count${q}`), N);
    assert.equal(m.get(`jetjob_job_run_seconds_count${q}`), N);
    assert.equal(m.get(`jetjob_job_run_seconds_bucket{le="+Inf",queue="${queue}"}`), N);
    assert.equal(m.get(`jetjob_jobs_failed_total${q}`) ?? 0, 0);
    assert.equal(m.get(`jetjob_jobs{queue="${queue}",state="completed"}`), N);
    assert.equal(m.get(`jetjob_jobs{queue="${queue}",state="available"}`), 0);
    assert.equal(m.get(`jetjob_queue_depth${q}`), 0);

    // The retried job is enqueued twice (new, then due again), fails once and completes once.
    assert.equal(m.get(`jetjob_jobs_enqueued_total${f}`), 3);
    assert.equal(m.get(`jetjob_jobs_failed_total${f}`), 2);
    assert.equal(m.get(`jetjob_jobs_retried_total${f}`), 1);
    assert.equal(m.get(`jetjob_jobs_discarded_total${f}`), 1);
    assert.equal(m.get(`jetjob_jobs_completed_total${f}`), 1);
    assert.equal(m.get(`jetjob_job_wait_seconds_count${f}`), 3);
    assert.equal(m.get(`jetjob_job_run_seconds_count${f}`), 3);
    assert.equal(m.get(`jetjob_jobs{queue="${flaky}",state="completed"}`), 1);
  });

  it("reports the fleet: agents online, finished jobs and host results", async () => {
    // Polls the job instead of awaiting the run, which follows the timeline over SSE.
    const created = await client.run("test.echo", { target: "metrics-host-01", args: {} }).created;
    const job = await waitFor(async () => {
      const j = await client.fleet.get(created.id);
      return j.status === "running" ? undefined : j;
    });
    assert.equal(job.status, "completed");
    const m = await waitFor(
      async () => {
        const m = await metrics();
        const done =
          (m.get(`jetjob_fleet_jobs_finished_total{status="completed"}`) ?? 0) >= 1 &&
          (m.get(`jetjob_fleet_host_results_total{state="completed"}`) ?? 0) >= 1;
        return done ? m : undefined;
      },
      { intervalMs: 50, what: "the fleet job's result and finished events" },
    );
    assert.equal(m.get(`jetjob_fleet_jobs_finished_total{status="completed"}`), 1);
    assert.equal(m.get(`jetjob_fleet_host_results_total{state="completed"}`), 1);
    assert.ok((m.get(`jetjob_workers_online{kind="agent",queue=""}`) ?? 0) >= 1);
    assert.equal(m.get(`jetjob_agents_online{state="ready"}`), 1);
    assert.equal(m.get(`jetjob_agents_online{state="draining"}`), 0);
  });

  it("labels HTTP requests with the route pattern, not the path", async () => {
    const job = await client.enqueue("test.ok", [0], { queue });
    await client.waitFor(job.id, { timeoutMs: 10_000 });
    await client.get(job.id);
    const missing = await fetch(`${srv.url}/no/such/route`);
    assert.equal(missing.status, 404);
    await missing.body?.cancel();
    const m = await metrics();
    const series = [...m.keys()].filter((k) => k.startsWith("jetjob_http_requests_total{"));
    assert.ok(
      (m.get(`jetjob_http_requests_total{method="GET",route="/ojs/v1/jobs/:id",status="200"}`) ?? 0) >= 1,
      series.join("\n"),
    );
    assert.ok((m.get(`jetjob_http_requests_total{method="GET",route="/metrics",status="401"}`) ?? 0) >= 1);
    assert.ok((m.get(`jetjob_http_requests_total{method="GET",route="unmatched",status="404"}`) ?? 0) >= 1);
    assert.ok(!series.some((k) => k.includes(job.id)), "no raw job id in a label");
    assert.ok(
      (m.get(`jetjob_http_request_duration_seconds_count{method="GET",route="/ojs/v1/jobs/:id"}`) ?? 0) >= 1,
    );
  });
});
