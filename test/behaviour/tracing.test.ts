/**
 * W3C trace context end to end against a real nats-server: from the HTTP request's `traceparent`
 * header into the stored job, to a NATS-direct worker's handler (running inside a span that continues
 * the trace), to HTTP fetch, the job view and its events; and for fleet jobs to the agent's handler.
 * The test registers what an OpenTelemetry SDK would (a context manager and a recording tracer).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";

import type { Agent } from "../../src/agent/agent.js";
import { createAgent } from "../../src/agent/agent.js";
import type { Client, QueueClient } from "../../src/client/client.js";
import { createClient } from "../../src/client/client.js";
import { silentLogger } from "../../src/core/logger.js";
import type { RunningApiServer } from "../../src/server/run.js";
import { runTestServer } from "../harness/app.js";
import type { Worker } from "../../src/worker/index.js";
import { createWorker, JobFailure } from "../../src/worker/index.js";
import { useNats, waitFor } from "../harness/nats.js";
import { installTestTracing } from "../harness/otel.js";

const h = useNats();
const tracing = installTestTracing();
const token = "trace-test-token-123456";

const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";
const SPAN_ID = "00f067aa0ba902b7";
const TRACEPARENT = `00-${TRACE_ID}-${SPAN_ID}-01`;

/** What a handler saw. */
interface Seen {
  traceparent: string | undefined;
  activeTraceId: string | undefined;
}

const activeTraceId = () => trace.getActiveSpan()?.spanContext().traceId;

describe("trace context", () => {
  let srv: RunningApiServer;
  let worker: Worker;
  let agent: Agent;
  let client: Client;
  let natsClient: QueueClient;
  const seen = new Map<string, Seen>(); // job id → what its handler saw

  before(async () => {
    srv = await runTestServer(h.nats.url, [{ name: "admin", token, scope: "admin" }], {
      fleet: { timings: { ackWindowMs: 500, livenessCheckMs: 100 } },
    });
    client = createClient({ url: srv.url, token });
    natsClient = createClient({ nats: h.nats.url });
    worker = createWorker({
      nats: h.nats.url,
      queues: ["traced"],
      handleSignals: false,
      logger: silentLogger,
      handlers: {
        "trace.see": (job) => {
          seen.set(job.id, { traceparent: job.traceparent, activeTraceId: activeTraceId() });
          return "ok";
        },
        "trace.fail": (job) => {
          seen.set(job.id, { traceparent: job.traceparent, activeTraceId: activeTraceId() });
          throw new JobFailure("no luck", { code: "unlucky", retryable: false });
        },
      },
    });
    await worker.ready;
    agent = await createAgent({
      nats: h.nats.url,
      hostname: "trace-agent",
      builtins: false,
      logger: silentLogger,
      timings: { heartbeatMs: 200 },
      handlers: {
        "test.trace": {
          kind: "query",
          handler: (job) => ({ traceparent: job.traceparent ?? null, active: activeTraceId() ?? null }),
        },
      },
    });
    await waitFor(async () => (await client.workers.list()).length === 1, { what: "agent online" });
  });
  after(async () => {
    await agent.close();
    await worker.close();
    await natsClient.close();
    await client.close();
    await srv.close();
  });

  const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const r = await fetch(srv.url + path, {
      method,
      headers: {
        Authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { "Content-Type": "application/json" }),
        ...headers,
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const json = (await r.json()) as Record<string, unknown>;
    return { status: r.status, json };
  };
  type JobJson = Record<string, unknown> & { id: string; state: string };
  const getJob = async (id: string) => (await call("GET", `/ojs/v1/jobs/${id}`)).json.job as JobJson;
  const finished = (id: string) =>
    waitFor(
      async () => {
        const job = await getJob(id);
        return ["completed", "discarded", "cancelled"].includes(job.state) ? job : undefined;
      },
      { what: `job ${id} finished` },
    );
  const eventsOf = async (id: string) =>
    (await call("GET", `/ojs/v1/events?job_id=${id}&limit=50`)).json.events as Array<{
      type: string;
      data: Record<string, unknown>;
    }>;

  it("(a) carries the traceparent header to a NATS-direct worker's handler, its span, the job and its events", async () => {
    tracing.reset();
    const r = await call(
      "POST",
      "/ojs/v1/jobs",
      { type: "trace.see", args: [], options: { queue: "traced" } },
      { traceparent: TRACEPARENT, tracestate: "vendor=abc" },
    );
    assert.equal(r.status, 201);
    const created = r.json.job as JobJson;
    assert.equal(created.traceparent, TRACEPARENT);
    assert.equal(created.tracestate, "vendor=abc");
    assert.equal("meta" in created, false, "not put into meta");

    const done = await finished(created.id);
    assert.equal(done.state, "completed");
    assert.equal(done.traceparent, TRACEPARENT, "GET shows the trace context");
    assert.deepEqual(seen.get(created.id), { traceparent: TRACEPARENT, activeTraceId: TRACE_ID });

    const span = tracing.spans.find((s) => s.attributes["jetjob.job_id"] === created.id);
    assert.ok(span, "a span for the job");
    assert.equal(span.name, "job trace.see");
    assert.equal(span.kind, SpanKind.CONSUMER);
    assert.equal(span.parent?.spanId, SPAN_ID);
    assert.equal(span.parent?.traceState?.get("vendor"), "abc");
    assert.equal(span.attributes["jetjob.queue"], "traced");
    assert.equal(span.attributes["jetjob.attempt"], 1);
    assert.equal(span.attributes["jetjob.outcome"], "completed");
    assert.equal(span.ended, true);
    assert.notEqual(span.status.code, SpanStatusCode.ERROR);

    const events = await waitFor(
      async () => {
        const evs = await eventsOf(created.id);
        return evs.some((e) => e.type === "job.completed") ? evs : undefined;
      },
      { what: "job.completed event" },
    );
    const types = events.map((e) => e.type).sort();
    assert.deepEqual(types, ["job.completed", "job.enqueued", "job.started"]);
    for (const e of events) assert.equal(e.data.trace_id, TRACE_ID, `${e.type} carries the trace id`);
  });

  it("(a) ends the span of a failed attempt with status ERROR and the exception", async () => {
    tracing.reset();
    const r = await call(
      "POST",
      "/ojs/v1/jobs",
      { type: "trace.fail", args: [], options: { queue: "traced", retry: { max_attempts: 1 } } },
      { traceparent: TRACEPARENT },
    );
    const id = (r.json.job as JobJson).id;
    assert.equal((await finished(id)).state, "discarded");
    assert.equal(seen.get(id)?.activeTraceId, TRACE_ID);
    const span = await waitFor(() =>
      tracing.spans.find((s) => s.attributes["jetjob.job_id"] === id && s.ended),
    );
    assert.equal(span.status.code, SpanStatusCode.ERROR);
    assert.equal(span.status.message, "no luck");
    assert.equal(span.attributes["jetjob.error_code"], "unlucky");
    assert.equal(span.exceptions.length, 1);
    assert.ok(span.exceptions[0] instanceof JobFailure);
    const failed = (await eventsOf(id)).find((e) => e.type === "job.failed");
    assert.equal(failed?.data.trace_id, TRACE_ID);
  });

  it("(b) returns the trace context from HTTP fetch; batch jobs take the header unless they bring their own", async () => {
    const other = `00-${"a".repeat(32)}-${"b".repeat(16)}-00`;
    const batch = await call(
      "POST",
      "/ojs/v1/jobs/batch",
      {
        jobs: [
          { type: "trace.http", args: [1], options: { queue: "trace-http" } },
          { type: "trace.http", args: [2], options: { queue: "trace-http" }, traceparent: other },
        ],
      },
      { traceparent: TRACEPARENT },
    );
    assert.equal(batch.status, 201);
    const jobs = batch.json.jobs as JobJson[];
    assert.deepEqual(
      jobs.map((j) => j.traceparent),
      [TRACEPARENT, other],
    );

    const fetched = await call("POST", "/ojs/v1/workers/fetch", { queues: ["trace-http"], count: 2 });
    assert.equal(fetched.status, 200);
    const got = fetched.json.jobs as JobJson[];
    assert.deepEqual(
      got.map((j) => [j.id, j.traceparent]).sort(),
      jobs.map((j) => [j.id, j.traceparent]).sort(),
    );
    for (const j of got) {
      const ack = await call("POST", "/ojs/v1/workers/ack", { job_id: j.id, result: null });
      assert.equal(ack.status, 200);
    }
  });

  it("(b) ignores an invalid header", async () => {
    const r = await call(
      "POST",
      "/ojs/v1/jobs",
      { type: "trace.http", args: [], options: { queue: "trace-invalid" } },
      { traceparent: "00-not-a-trace-01", tracestate: "a=b" },
    );
    assert.equal(r.status, 201);
    const job = r.json.job as JobJson;
    assert.equal("traceparent" in job, false);
    assert.equal("tracestate" in job, false);
  });

  it("(c) carries the header of a fleet job to the agent's handler and span, and shows it on the job", async () => {
    tracing.reset();
    const r = await call(
      "POST",
      "/api/v1/jobs",
      { op: "test.trace", target: "host:trace-agent" },
      { traceparent: TRACEPARENT },
    );
    assert.equal(r.status, 201);
    const id = (r.json.job as { id: string }).id;
    const job = await waitFor(
      async () => {
        const j = (await call("GET", `/api/v1/jobs/${id}`)).json.job as {
          status: string;
          traceparent?: string;
          results: Array<{ state: string; result?: unknown }>;
        };
        return j.status !== "running" ? j : undefined;
      },
      { what: "fleet job finished" },
    );
    assert.equal(job.traceparent, TRACEPARENT);
    assert.equal(job.results[0]?.state, "completed");
    assert.deepEqual(job.results[0]?.result, { traceparent: TRACEPARENT, active: TRACE_ID });
    const span = tracing.spans.find((s) => s.attributes["jetjob.job_id"] === id);
    assert.equal(span?.name, "job test.trace");
    assert.equal(span?.parent?.spanId, SPAN_ID);
    assert.equal(span?.attributes["jetjob.host"], "trace-agent");
    assert.equal(span?.ended, true);
  });

  it("(c) the SDK sends the caller's active trace, or an explicit one", async () => {
    const tracer = trace.getTracer("test");
    // HTTP transport, the caller's active span: the job continues the caller's trace.
    const { job, traceId } = await tracer.startActiveSpan("caller", async (span) => {
      const j = await client.enqueue("trace.see", [], { queue: "traced" });
      span.end();
      return { job: j, traceId: span.spanContext().traceId };
    });
    assert.equal(job.traceparent?.slice(3, 35), traceId);
    await finished(job.id);
    assert.equal(seen.get(job.id)?.activeTraceId, traceId);

    // NATS transport, explicit option.
    const viaNats = await natsClient.enqueue("trace.see", [], { queue: "traced", traceparent: TRACEPARENT });
    assert.equal(viaNats.traceparent, TRACEPARENT);
    await finished(viaNats.id);
    assert.deepEqual(seen.get(viaNats.id), { traceparent: TRACEPARENT, activeTraceId: TRACE_ID });

    // Fleet run with an explicit traceparent.
    const run = await client.run("test.trace", { target: "host:trace-agent", traceparent: TRACEPARENT });
    assert.equal(run.traceparent, TRACEPARENT);
    assert.deepEqual(run.results[0]?.result, { traceparent: TRACEPARENT, active: TRACE_ID });
  });

  it("(d) a job without trace context has none, and its handler runs without a span", async () => {
    tracing.reset();
    const r = await call("POST", "/ojs/v1/jobs", {
      type: "trace.see",
      args: [],
      options: { queue: "traced" },
    });
    const id = (r.json.job as JobJson).id;
    const done = await finished(id);
    assert.equal(done.state, "completed");
    assert.equal("traceparent" in done, false);
    assert.deepEqual(seen.get(id), { traceparent: undefined, activeTraceId: undefined });
    assert.equal(
      tracing.spans.some((s) => s.attributes["jetjob.job_id"] === id),
      false,
      "no span for a job without trace context",
    );
    for (const e of await eventsOf(id)) assert.equal("trace_id" in e.data, false);

    const fleetJob = await client.run("test.trace", { target: "host:trace-agent" });
    assert.equal("traceparent" in fleetJob, false);
    assert.deepEqual(fleetJob.results[0]?.result, { traceparent: null, active: null });
  });
});
