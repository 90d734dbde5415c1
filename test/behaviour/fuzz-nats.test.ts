/**
 * Garbage on NATS never crashes or stops an agent, a controller or an API server: random bytes,
 * truncated JSON, JSON with wrong field types and huge strings on the agent's dispatch subject, on the
 * timeline subjects of a running fleet job (stored in the fleet stream), on the lifecycle events
 * subjects (with live SSE listeners and the metrics subscribed) and in the agent's control key. The
 * running job still finishes, a new job still completes, and no exception escapes. The OJS worker
 * routes (ack, nack, heartbeat) refuse random bodies with a 4xx.
 *
 * Reproducible by default (fixed seed); `JETJOB_FUZZ_SEED=<n>` explores other inputs.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { jetstream } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import fc from "fast-check";

import type { Agent } from "../../src/agent/agent.js";
import { createAgent } from "../../src/agent/agent.js";
import { ErrorCode } from "../../src/core/errors.js";
import { createLogger, silentLogger } from "../../src/core/logger.js";
import type { Controller } from "../../src/fleet/controller.js";
import { createController } from "../../src/fleet/controller.js";
import { newFleetId } from "../../src/fleet/ids.js";
import { getFleetJob } from "../../src/fleet/jobs.js";
import type { FleetJobView } from "../../src/fleet/types.js";
import { controlKey } from "../../src/fleet/workers.js";
import type { App } from "../../src/server/app.js";
import { createApp } from "../../src/server/app.js";
import type { Scope } from "../../src/server/auth.js";
import { createAuthenticator } from "../../src/server/auth.js";
import type { Metrics } from "../../src/server/metrics.js";
import { createMetrics } from "../../src/server/metrics.js";
import {
  ackRequestSchema,
  heartbeatRequestSchema,
  nackRequestSchema,
} from "../../src/usecases/worker-reports.js";
import type { StoreContext } from "../../src/store/infra/context.js";
import { createStoreContext } from "../../src/store/infra/context.js";
import type { Engine } from "../../src/store/engine.js";
import { createEngine } from "../../src/store/engine.js";
import { CONTROLLER_TOKEN, hostToken } from "../../src/store/infra/topology.js";
import { testTokens } from "../harness/app.js";
import { useNats, waitFor } from "../harness/nats.js";

const h = useNats();
const seed = Number.parseInt(process.env.JETJOB_FUZZ_SEED ?? "20240611", 10);
const runs = (n: number) => ({ seed, numRuns: n, includeErrorInReport: true });
const HOST = "fuzz-host";
const enc = new TextEncoder();
const errorCodes: ReadonlySet<string> = new Set(Object.values(ErrorCode));

/** Values of every JSON type, including ones that break dates, subjects and arithmetic. */
const anyValue = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.constantFrom("", ">", "*", "a b", "..", "\u0000", "x".repeat(3000), "1e999", "NaN"),
  fc.integer(),
  fc.constantFrom(-1, 0, 2 ** 53, 1e308, -1e308, 0.5),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.jsonValue({ maxDepth: 1 }), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 3 }),
);
const notAnObject = fc.oneof(
  fc.constant(null),
  fc.integer(),
  fc.string({ maxLength: 20 }),
  fc.boolean(),
  fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 4 }),
);

/** Garbage shaped around a valid message: JSON with one field of a wrong type, or cut short. */
function garbageAround(valid: () => Record<string, unknown>, fields: string[]) {
  const json = (v: unknown) => enc.encode(JSON.stringify(v));
  return fc.oneof(
    fc.uint8Array({ maxLength: 256 }),
    notAnObject.map(json),
    fc.tuple(fc.constantFrom(...fields), anyValue).map(([f, v]) => json({ ...valid(), [f]: v })),
    fc.nat().map((n) => {
      const s = JSON.stringify(valid());
      return enc.encode(s.slice(0, n % s.length));
    }),
    fc.dictionary(fc.constantFrom(...fields), anyValue, { maxKeys: fields.length }).map(json),
    fc.integer({ min: 50_000, max: 400_000 }).map((n) => json({ ...valid(), [fields[0]!]: "x".repeat(n) })),
  );
}

describe("NATS fuzz: garbage never stops an agent or a controller", () => {
  let ncCtl: NatsConnection;
  let ncAgent: NatsConnection;
  let ncApi: NatsConnection;
  let ctx: StoreContext;
  let ctl: Controller;
  let agent: Agent;
  let engine: Engine;
  let metrics: Metrics;
  let app: App;
  const crashes: unknown[] = [];
  const onCrash = (err: unknown) => crashes.push(err);
  const controllerErrors: unknown[] = [];
  const agentLog: string[] = [];
  const release = new Map<string, () => void>();
  const tally = { payloads: 0, requests: 0 };

  const finished = (id: string, timeoutMs = 15_000) =>
    waitFor(
      async () => {
        const j = await getFleetJob(ctl, id);
        return j.status === "running" ? undefined : j;
      },
      { timeoutMs, what: `fleet job ${id} to finish` },
    );

  /** A normal job on the agent: it must still complete after the garbage. */
  async function echoStillWorks(what: string): Promise<void> {
    // A flood can delay the agent's 200 ms heartbeat past the liveness window: wait until the
    // controller sees it alive again (a dead agent never would), then run a job on it.
    await waitFor(() => ctl.resolve(HOST, "test.echo").dispatch.length === 1, {
      timeoutMs: 10_000,
      what: `${HOST} alive ${what}`,
    });
    const rec = await ctl.create({ op: "test.echo", target: HOST, args: [what] });
    const j: FleetJobView = await finished(rec.id);
    assert.equal(j.status, "completed", `${what}: ${JSON.stringify(j.results)}`);
    assert.deepEqual(j.results[0]?.result, { echo: [what] });
  }

  before(async () => {
    process.on("uncaughtException", onCrash);
    process.on("unhandledRejection", onCrash);
    ncCtl = await h.nats.connect("fuzz-controller");
    ctx = await createStoreContext(ncCtl);
    ctl = await createController(ctx, {
      timings: { ackWindowMs: 500, livenessCheckMs: 100 },
      onError: (err) => controllerErrors.push(err),
    });
    ncAgent = await h.nats.connect("fuzz-agent");
    agent = await createAgent({
      nats: ncAgent,
      hostname: HOST,
      labels: { role: "fuzz" },
      builtins: false,
      logger: createLogger({ level: "warn", format: "json", write: (l) => agentLog.push(l) }),
      timings: { heartbeatMs: 200 },
      handlers: {
        "test.echo": { kind: "query", handler: (job) => ({ echo: job.args }) },
        "test.wait": {
          kind: "query",
          handler: (job) => new Promise((resolve) => release.set(job.id, () => resolve("released"))),
        },
      },
    });
    ncApi = await h.nats.connect("fuzz-api");
    engine = await createEngine(ncApi);
    metrics = await createMetrics({ engine, fleet: ctl, defaultMetrics: false });
    app = createApp({
      engine,
      fleet: ctl,
      metrics,
      auth: createAuthenticator(
        (Object.keys(testTokens) as Scope[]).map((scope) => ({
          name: scope,
          token: testTokens[scope],
          scope,
        })),
      ),
      logger: silentLogger,
      version: "test",
    });
    await waitFor(() => ctl.resolve(HOST, "test.echo").dispatch.length === 1, { what: "the agent online" });
  });

  after(async () => {
    for (const r of release.values()) r();
    await agent.close();
    await metrics.close();
    await ctl.close();
    ctx.close();
    await engine.close();
    await ncAgent.close();
    await ncApi.close();
    await ncCtl.close();
    process.off("uncaughtException", onCrash);
    process.off("unhandledRejection", onCrash);
    console.log(
      `nats fuzz: ${tally.payloads} garbage payloads, ${tally.requests} worker requests, ` +
        `${crashes.length} crashes (seed ${seed})`,
    );
  });

  it("ignores garbage on the agent's dispatch subject", async () => {
    const subject = ctx.subjects.fleetDispatch(hostToken(HOST));
    const valid = () => ({
      id: newFleetId(),
      op: "test.echo",
      kind: "query",
      args: [1],
      epoch: 1,
      deadline_at: Date.now() + 60_000,
    });
    const payload = fc.oneof(
      garbageAround(valid, ["id", "op", "kind", "args", "epoch", "deadline_at", "traceparent"]),
      anyValue.map((v) => enc.encode(JSON.stringify({ cancel: v }))),
      // Ids that are not fleet ids (wildcards, spaces): they end up in KV keys and subjects.
      fc.constantFrom(">", "*", "a b", "j.>", "").map((id) => enc.encode(JSON.stringify({ ...valid(), id }))),
    );
    await fc.assert(
      fc.asyncProperty(payload, (data) => {
        ncCtl.publish(subject, data);
        tally.payloads++;
      }),
      runs(250),
    );
    await ncCtl.flush();
    await echoStillWorks("after dispatch garbage");
    assert.equal(agent.running(), 0, "no garbage dispatch is running");
    assert.deepEqual(crashes, []);
  });

  it("ignores garbage on a running job's timeline; the job still finishes", async () => {
    const rec = await ctl.create({ op: "test.wait", target: HOST });
    await waitFor(() => release.has(rec.id), { what: "the job to start on the agent" });
    const js = jetstream(ncCtl);
    const tokens = [hostToken(HOST), CONTROLLER_TOKEN, hostToken("ghost-host")];
    const valid = () => ({ e: "completed", h: HOST, at: Date.now(), ep: 1, by: "forger", d: { result: 1 } });
    // Each one has at least one field of a wrong type (a well-formed forged result is not garbage).
    const wrong = fc
      .tuple(
        fc.constantFrom("h", "at", "ep", "by", "d"),
        fc.constantFrom(
          "acknowledged",
          "started",
          "completed",
          "failed",
          "unreachable",
          "timeout",
          "cancelled",
        ),
        anyValue,
      )
      .filter(([field, , v]) => {
        if (field === "h" || field === "by") return typeof v !== "string";
        if (field === "d") return typeof v !== "object" || v === null || Array.isArray(v);
        return typeof v !== "number";
      })
      .map(([field, e, v]) => enc.encode(JSON.stringify({ ...valid(), e, [field]: v })));
    const payload = fc.oneof(
      fc.uint8Array({ maxLength: 256 }),
      notAnObject.map((v) => enc.encode(JSON.stringify(v))),
      fc.nat().map((n) => {
        const s = JSON.stringify(valid());
        return enc.encode(s.slice(0, n % s.length));
      }),
      wrong,
      fc.integer({ min: 50_000, max: 400_000 }).map((n) => enc.encode(JSON.stringify({ e: "x".repeat(n) }))),
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...tokens), payload, async (token, data) => {
        await js.publish(ctx.subjects.fleetTimeline(rec.id, token), data);
        tally.payloads++;
      }),
      runs(200),
    );
    // Forged dispatches with wildcard ids (KV keys, subjects): they must not touch this running job.
    for (const id of ["*", ">", "j.*"]) {
      const forged = {
        id,
        op: "test.echo",
        kind: "query",
        args: [],
        epoch: 99,
        deadline_at: Date.now() + 5000,
      };
      ncCtl.publish(ctx.subjects.fleetDispatch(hostToken(HOST)), enc.encode(JSON.stringify(forged)));
      tally.payloads++;
    }
    await ncCtl.flush();
    await echoStillWorks("during timeline garbage"); // the agent took what came after the forgeries
    assert.equal((await getFleetJob(ctl, rec.id)).status, "running", "garbage finished nothing");
    assert.equal(
      (await getFleetJob(ctl, rec.id)).timeline?.filter((e) => e.host === HOST).length,
      2,
      "only the agent's own acknowledged and started events",
    );
    release.get(rec.id)!();
    const j = await finished(rec.id);
    assert.equal(j.status, "completed", JSON.stringify(j.results));
    assert.equal(j.results[0]?.result, "released");
    await echoStillWorks("after timeline garbage");
    assert.deepEqual(crashes, []);
  });

  it("ignores garbage on the lifecycle events subjects, with live listeners", async () => {
    // Live SSE listeners: every event passes through their NATS callbacks.
    const listen = async (path: string) => {
      const res = await app.hono.request(path, { headers: { Authorization: `Bearer ${testTokens.read}` } });
      assert.equal(res.status, 200, path);
      const reader: ReadableStreamDefaultReader<Uint8Array> = res.body!.getReader();
      const chunks: string[] = [];
      const done = (async () => {
        const dec = new TextDecoder();
        for (;;) {
          const r = await reader.read();
          if (r.done) return;
          chunks.push(dec.decode(r.value));
        }
      })();
      return { chunks, close: async () => (await reader.cancel(), await done) };
    };
    // The queue must exist for its stream (an unknown queue's stream is 404).
    const made = await app.hono.request("/ojs/v1/jobs", {
      method: "POST",
      headers: { Authorization: `Bearer ${testTokens.write}`, "Content-Type": "application/json" },
      body: JSON.stringify({ type: "fuzz.ev", args: [], options: { queue: "q" } }),
    });
    assert.equal(made.status, 201);
    const live = [await listen("/api/v1/events/stream"), await listen("/ojs/v1/queues/q/events")];
    const valid = () => ({ t: "job.completed", at: Date.now(), id: newFleetId(), jt: "fuzz.ev", q: "q" });
    const fields = ["t", "at", "id", "jt", "q", "a", "d", "w", "e", "tid"];
    const payload = fc.oneof(
      garbageAround(valid, fields),
      // Batches are arrays: garbage inside a batch, next to a good event.
      fc
        .array(fc.oneof(anyValue, fc.tuple(fc.constantFrom(...fields), anyValue)), { maxLength: 4 })
        .map((items) =>
          enc.encode(
            JSON.stringify(
              items.map((x) =>
                Array.isArray(x) && x.length === 2 ? { ...valid(), [x[0] as string]: x[1] } : x,
              ),
            ),
          ),
        ),
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom("q", "fuzz-ev"), payload, async (queue, data) => {
        ncCtl.publish(ctx.subjects.events(queue), data);
        tally.payloads++;
        // A good event after each payload: the listeners must still deliver it.
        ncCtl.publish(ctx.subjects.events(queue), enc.encode(JSON.stringify([valid()])));
        await Promise.resolve();
      }),
      runs(200),
    );
    await ncCtl.flush();
    const marker = { ...valid(), jt: "fuzz.marker" };
    ncCtl.publish(ctx.subjects.events("q"), enc.encode(JSON.stringify([marker])));
    for (const l of live) {
      await waitFor(() => l.chunks.join("").includes("fuzz.marker"), {
        what: "the marker event on a live stream",
      });
    }
    for (const l of live) await l.close();
    // Stored garbage must not break reading recent events or the metrics.
    for (const q of [
      { limit: 1000 },
      { queues: ["q"], limit: 1000 },
      { types: ["job.completed"], limit: 10 },
    ]) {
      const events = await engine.events(q);
      assert.ok(events.length > 0);
    }
    const res = await app.hono.request("/ojs/v1/events?limit=1000", {
      headers: { Authorization: `Bearer ${testTokens.read}` },
    });
    assert.equal(res.status, 200, await res.text());
    assert.match(await metrics.render(), /jetjob_jobs_completed_total|jetjob_job/);
    await echoStillWorks("after events garbage");
    assert.deepEqual(crashes, []);
  });

  it("ignores malformed records in the agent's control key", async () => {
    const key = controlKey(HOST);
    const seen: Array<{ state: string; labels: unknown }> = [];
    ctl.registry.onChange(() => {
      const e = ctl.registry.agent(HOST);
      if (e) seen.push({ state: e.info.state, labels: e.info.labels });
    });
    const valid = () => ({ drain: false, updated_at: Date.now() });
    const payload = fc.oneof(
      fc.uint8Array({ minLength: 1, maxLength: 128 }),
      notAnObject.map((v) => enc.encode(JSON.stringify(v))),
      fc
        .tuple(fc.constantFrom("drain", "labels"), anyValue)
        .filter(([f, v]) => (f === "drain" ? typeof v !== "boolean" : v !== null))
        .map(([f, v]) => enc.encode(JSON.stringify({ ...valid(), [f]: v }))),
      fc
        .dictionary(fc.string({ maxLength: 6 }), anyValue, { minKeys: 1, maxKeys: 2 })
        .filter((labels) => Object.values(labels).some((v) => typeof v !== "string"))
        .map((labels) => enc.encode(JSON.stringify({ ...valid(), labels }))),
    );
    await fc.assert(
      fc.asyncProperty(payload, async (data) => {
        await ctx.buckets.fleet.put(key, data);
        tally.payloads++;
      }),
      runs(60),
    );
    // A good record afterwards is applied: the agent's watch survived.
    await ctx.buckets.fleet.put(
      key,
      enc.encode(JSON.stringify({ drain: false, labels: { role: "after-garbage" }, updated_at: Date.now() })),
    );
    await waitFor(() => agent.labels().role === "after-garbage", { what: "the good control record" });
    await waitFor(() => ctl.registry.agent(HOST)?.info.labels.role === "after-garbage", {
      what: "the registry to show the new labels",
    });
    for (const s of seen) {
      assert.equal(s.state, "ready", "no garbage record drained the agent");
      assert.ok(
        typeof s.labels === "object" &&
          s.labels !== null &&
          Object.values(s.labels).every((v) => typeof v === "string"),
        `labels stay string pairs: ${JSON.stringify(s.labels)}`,
      );
    }
    await ctx.buckets.fleet.delete(key);
    await waitFor(() => agent.labels().role === "fuzz", { what: "the configured labels back" });
    await echoStillWorks("after control garbage");
    assert.deepEqual(crashes, []);
  });

  it("refuses random bodies on the OJS worker routes (ack, nack, heartbeat) with 4xx", async () => {
    // A real active job, so a body that only breaks other fields reaches a real job.
    await engine.enqueue({ type: "fuzz.work", args: [], options: { queue: "fuzz-work" } });
    const [job] = await engine.fetch({ queues: ["fuzz-work"], count: 1, workerId: "fuzz" });
    assert.ok(job, "an active job");
    const schemas = {
      ack: ackRequestSchema,
      nack: nackRequestSchema,
      heartbeat: heartbeatRequestSchema,
    } as const;
    const fields = ["job_id", "result", "error", "requeue", "worker_id", "active_jobs", "active_job_ids"];
    const body = fc.oneof(
      notAnObject,
      fc.dictionary(
        fc.constantFrom(...fields, "visibility_timeout_ms"),
        fc.oneof(anyValue, fc.constant(job.id), fc.constant([job.id])),
        { maxKeys: 4 },
      ),
      fc.record(
        { job_id: fc.constant(job.id), error: anyValue, requeue: anyValue },
        { requiredKeys: ["job_id"] },
      ),
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom("ack", "nack", "heartbeat" as const), body, async (route, value) => {
        const res = await app.hono.request(`/ojs/v1/workers/${route}`, {
          method: "POST",
          headers: { Authorization: `Bearer ${testTokens.write}`, "Content-Type": "application/json" },
          body: JSON.stringify(value),
        });
        tally.requests++;
        const text = await res.text();
        const what = `${route} ${JSON.stringify(value).slice(0, 120)} → ${res.status} ${text.slice(0, 200)}`;
        assert.ok(res.status < 500, what);
        if (!schemas[route].safeParse(value).success) assert.ok(res.status >= 400, what);
        if (res.status >= 400) {
          const code = (JSON.parse(text) as { error?: { code?: string } }).error?.code;
          // OJS routes prefix jetjob's own codes with x_ (http-binding §16.3).
          assert.ok(code !== undefined && errorCodes.has(code.replace(/^x_/, "")), what);
        }
      }),
      runs(300),
    );
    assert.deepEqual(crashes, []);
  });

  it("the agent and the controller are still alive", async () => {
    await echoStillWorks("at the end");
    const entry = ctl.registry.agent(HOST);
    assert.ok(entry && Date.now() - entry.seenAt < 2_000, "the agent still heartbeats");
    assert.equal(agent.state(), "ready");
    assert.deepEqual(crashes, [], "no uncaught exception or unhandled rejection");
  });
});
