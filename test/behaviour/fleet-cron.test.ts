/**
 * Scheduled fleet jobs against a real nats-server (issue 16): a cron entry with a target creates a
 * fleet job at each tick that runs on the agents the target selects, one job per tick even when a
 * second scheduler fires the same ticks; a malformed target is refused at registration (400, with
 * the position); a tick whose target selects no agent is recorded on the schedule and the schedule
 * goes on; `overlap_policy: "skip"` waits for the previous fleet job; and a scheduler without a fleet
 * controller records its targeted ticks as skipped and warns.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import type { Agent } from "../../src/agent/agent.js";
import { createAgent } from "../../src/agent/agent.js";
import type { CronInfo } from "../../src/client/api.js";
import type { Client } from "../../src/client/client.js";
import { ErrorCode, isJetjobError } from "../../src/core/errors.js";
import { uuidv7Time } from "../../src/core/ids.js";
import { silentLogger } from "../../src/core/logger.js";
import { createCronFleet } from "../../src/fleet/cron.js";
import { parseFleetTemplate } from "../../src/fleet/request.js";
import type { FleetJobView } from "../../src/fleet/types.js";
import type { RunningApiServer } from "../../src/server/run.js";
import type { CronRecord } from "../../src/store/features/cron.js";
import { cronTick } from "../../src/store/features/cron.js";
import { createEngine } from "../../src/store/engine.js";
import { getJson, putJson } from "../../src/store/infra/kvjson.js";
import { runTestServer } from "../harness/app.js";
import type { TestClients } from "../harness/clients.js";
import { createTestClients, transports } from "../harness/clients.js";
import { useNats, waitFor } from "../harness/nats.js";

const h = useNats();
const token = "fleet-cron-token-123456";

const hosts = [
  { host: "web-01", group: "web" },
  { host: "web-02", group: "web" },
  { host: "db-01", group: "db" },
];

describe("scheduled fleet jobs", () => {
  let srv: RunningApiServer;
  let clients: TestClients;
  /** The HTTP client, for the tests that need only one. */
  let client: Client;
  const agents: Agent[] = [];
  const runs = new Map<string, string[]>(); // fleet job id → hosts whose handler ran it

  before(async () => {
    srv = await runTestServer(h.nats.url, [{ name: "admin", token, scope: "admin" }], {
      fleet: { timings: { ackWindowMs: 500, livenessCheckMs: 100 } },
    });
    clients = createTestClients({ url: srv.url, token, nats: h.nats.url });
    client = clients.http;
    const note = (id: string, host: string) => runs.set(id, [...(runs.get(id) ?? []), host]);
    for (const f of hosts) {
      agents.push(
        await createAgent({
          nats: h.nats.url,
          hostname: f.host,
          labels: { group: f.group },
          logger: silentLogger,
          timings: { heartbeatMs: 200 },
          handlers: {
            "test.tick": {
              kind: "query",
              handler: (job) => (note(job.id, job.hostname), { host: job.hostname }),
            },
            "test.block": {
              kind: "modify",
              handler: (job) =>
                new Promise((_, reject) => {
                  note(job.id, job.hostname);
                  job.signal.addEventListener("abort", () => reject(new Error("aborted")), { once: true });
                }),
            },
          },
        }),
      );
    }
    await waitFor(async () => (await client.workers.list()).length === hosts.length, {
      what: "three agents online",
    });
  });
  after(async () => {
    for (const a of agents) await a.close();
    await clients.close();
    await srv.close();
  });

  /** The fleet jobs a schedule created, by the `cron` meta the ticker puts on them. */
  const jobsOf = async (name: string): Promise<FleetJobView[]> => {
    const out: FleetJobView[] = [];
    let cursor: string | undefined;
    do {
      const page = await client.fleet.list({ limit: 500, ...(cursor === undefined ? {} : { cursor }) });
      out.push(...page.jobs.filter((j) => j.meta?.cron === name));
      cursor = page.next_cursor;
    } while (cursor !== undefined);
    return out;
  };
  const cronOf = async (name: string): Promise<CronInfo | undefined> =>
    (await client.cron.list()).find((c) => c.name === name);
  const post = (path: string, body: unknown) =>
    fetch(`${srv.url}${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });

  it("runs a fleet job on the selected agents at every tick, one job per tick, also when a second scheduler fires the same ticks", async () => {
    const added = await client.cron.add({
      name: "web-beat",
      expression: "* * * * * *",
      job: { op: "test.tick", target: "group:web", args: { n: 1 } },
    });
    assert.equal(added.target, "group:web");
    assert.deepEqual(added.job_template, { op: "test.tick", target: "group:web", args: { n: 1 } });

    const first = await waitFor(
      async () => {
        const jobs = await jobsOf("web-beat");
        return jobs.length >= 3 ? jobs : undefined;
      },
      { timeoutMs: 15_000, what: "three ticks' fleet jobs" },
    );

    // A second scheduler with a stale view of the schedule (as after a leader change, before the
    // first one's progress was seen) fires the same ticks again: every one is a duplicate, nothing
    // new is dispatched. It reads the schedule from its own copy, so the race is not left to timing.
    const fired = first.map((j) => Date.parse(String(j.meta?.cron_tick)));
    const [firstTick, lastTick] = [Math.min(...fired), Math.max(...fired)];
    const rec = await getJson<CronRecord>(srv.engine.ctx.buckets.cron, "web-beat");
    assert.ok(rec);
    const nc = await h.nats.connect("second-scheduler");
    const stale = await createEngine(nc, { topology: { prefix: "second" }, background: false });
    const outcomes: string[] = [];
    try {
      await putJson(stale.ctx.buckets.cron, "web-beat", { ...rec.value, lastRunAt: firstTick - 1000 });
      const real = createCronFleet(Promise.resolve(srv.fleet));
      await cronTick(stale.svc, lastTick, {
        fleet: {
          ...real,
          dispatch: async (id, template, meta) => {
            const r = await real.dispatch!(id, template, meta);
            outcomes.push(r);
            return r;
          },
        },
      });
    } finally {
      await stale.close();
      await nc.close();
    }
    assert.equal(outcomes.length, (lastTick - firstTick) / 1000 + 1, "the stale scheduler fired every tick");
    assert.deepEqual(new Set(outcomes), new Set(["duplicate"]), "and each was already fired");

    await client.cron.delete("web-beat");
    const jobs = await waitFor(
      async () => {
        const all = await jobsOf("web-beat");
        return all.every((j) => j.status !== "running") ? all : undefined;
      },
      { what: "every scheduled job finished" },
    );
    assert.ok(jobs.length >= 3);
    const ticks = jobs.map((j) => String(j.meta?.cron_tick));
    assert.equal(new Set(ticks).size, jobs.length, `one fleet job per tick: ${ticks.sort().join(", ")}`);
    for (const j of jobs) {
      assert.equal(j.status, "completed", `${j.id} (${String(j.meta?.cron_tick)})`);
      assert.equal(j.target, "group:web");
      assert.equal(j.op, "test.tick");
      assert.deepEqual(j.hosts, ["web-01", "web-02"]);
      assert.deepEqual((runs.get(j.id) ?? []).sort(), ["web-01", "web-02"], "each agent ran it once");
      assert.equal(uuidv7Time(j.id), Date.parse(String(j.meta?.cron_tick)), "the id carries the tick");
      assert.equal(j.created_by, `cron:${String(j.meta?.cron)}`, "created by the schedule");
    }
    const one = await client.fleet.get(jobs[0]!.id);
    assert.deepEqual(
      one.results.map((r) => [r.host, r.state, r.result]),
      [
        ["web-01", "completed", { host: "web-01" }],
        ["web-02", "completed", { host: "web-02" }],
      ],
    );
    // The controller refuses a second job with a tick's id, and nothing runs again.
    await assert.rejects(
      srv.fleet.create({ op: "test.tick", target: "group:web", id: jobs[0]!.id }),
      (err) => isJetjobError(err) && err.code === ErrorCode.Duplicate,
    );
    assert.equal(runs.get(jobs[0]!.id)?.length, 2);
  });

  it("refuses a schedule with a malformed target at registration (400, with the position)", async () => {
    const res = await post("/ojs/v1/cron", {
      name: "bad-target",
      expression: "* * * * * *",
      job_template: { op: "test.tick", target: "group:web and (" },
    });
    assert.equal(res.status, 400);
    const body = (await res.json()) as {
      error: { code: string; message: string; details?: Record<string, unknown> };
    };
    assert.equal(body.error.code, "invalid_request");
    assert.match(body.error.message, /^job_template\.target: Bad target at position \d+/);
    assert.equal(typeof body.error.details?.position, "number");

    const noOp = await post("/ojs/v1/cron", {
      name: "bad-target",
      expression: "* * * * * *",
      job_template: { target: "all", args: [] },
    });
    assert.equal(noOp.status, 400);
    assert.match(((await noOp.json()) as { error: { message: string } }).error.message, /job_template\.op/);
    // Both client transports refuse it with the same check (usecases/cron.ts, fleet/request.ts).
    for (const transport of transports) {
      await assert.rejects(
        clients[transport].cron.add({
          name: "bad-target",
          expression: "* * * * * *",
          job: { op: "test.tick", target: "group:web and (" },
        }),
        (err) =>
          isJetjobError(err) &&
          err.code === ErrorCode.InvalidRequest &&
          typeof err.details?.position === "number",
        transport,
      );
    }
    assert.equal(await cronOf("bad-target"), undefined, "nothing was stored");
  });

  for (const transport of transports) {
    /** A schedule name of this transport's own. */
    const q = (name: string) => `${name}-${transport}`;
    it(`${transport}: records a tick whose target selects no agent on the schedule, and goes on`, async () => {
      const cl = clients[transport];
      await cl.cron.add({
        name: q("nowhere"),
        expression: "* * * * * *",
        job: { op: "test.tick", target: "group:nowhere" },
      });
      const failed = await waitFor(
        async () => {
          const c = await cronOf(q("nowhere"));
          return c?.last_error?.code === "no_targets" ? c : undefined;
        },
        { what: "a tick recorded as no_targets" },
      );
      assert.equal(failed.target, "group:nowhere");
      assert.ok(failed.last_run_at);
      assert.equal(failed.last_error?.tick_at, failed.last_run_at);
      assert.equal(failed.last_job_id, undefined, "no job was created");
      await waitFor(async () => ((await cronOf(q("nowhere")))?.last_run_at ?? "") > failed.last_run_at!, {
        what: "the next tick handled",
      });
      await cl.cron.delete(q("nowhere"));
      assert.deepEqual(await jobsOf(q("nowhere")), []);
    });

    it(`${transport}: with overlap_policy skip, starts no job while the previous fleet job runs`, async () => {
      const cl = clients[transport];
      await cl.cron.add({
        name: q("slow"),
        expression: "* * * * * *",
        overlapPolicy: "skip",
        job: { op: "test.block", target: "host:db-01", timeoutMs: 60_000 },
      });
      const [job] = await waitFor(
        async () => ((await jobsOf(q("slow"))).length > 0 ? jobsOf(q("slow")) : undefined),
        {
          what: "the first job",
        },
      );
      const started = Date.parse(String(job!.meta?.cron_tick));
      await waitFor(async () => Date.parse((await cronOf(q("slow")))?.last_run_at ?? "") >= started + 2000, {
        what: "two more ticks handled",
      });
      const c = await cronOf(q("slow"));
      await cl.cron.delete(q("slow"));
      assert.equal(c?.last_job_id, job!.id, "the skipped ticks keep the running job as the last");
      assert.deepEqual(
        (await jobsOf(q("slow"))).map((j) => j.id),
        [job!.id],
        "no second job while the first runs",
      );
      assert.equal((await cl.fleet.cancel(job!.id)).status, "cancelled");
    });
  }

  it("a scheduler without a fleet controller records targeted ticks as skipped and warns", async () => {
    const nc = await h.nats.connect("pure-engine");
    const warnings: Array<Record<string, unknown>> = [];
    // Its own prefix, so it is the scheduler of its own namespace while the server's keeps its own.
    const engine = await createEngine(nc, {
      topology: { prefix: "pure" },
      leaseMs: 1000,
      cron: { fleet: { check: parseFleetTemplate }, onWarn: (_m, fields) => void warnings.push(fields) },
    });
    try {
      await engine.registerCron({
        name: "headless",
        expression: "* * * * * *",
        job_template: { op: "test.tick", target: "all" },
      });
      const c = await waitFor(
        async () => (await engine.listCrons()).find((x) => x.last_error?.code === "unsupported"),
        { what: "a skipped tick" },
      );
      assert.equal(c.target, "all");
      assert.match(c.last_error?.message ?? "", /no fleet controller/);
      assert.equal(warnings[0]?.cron, "headless");
      assert.equal(warnings[0]?.code, "unsupported");
      // Without the fleet check, a targeted template is refused rather than stored unchecked.
      const bare = await createEngine(nc, { topology: { prefix: "pure" }, background: false });
      await assert.rejects(
        bare.registerCron({ name: "x", expression: "* * * * *", job_template: { op: "a.b", target: "all" } }),
        (err) => isJetjobError(err) && err.code === ErrorCode.Unsupported,
      );
      await bare.close();
    } finally {
      await engine.close();
      await nc.close();
    }
  });
});
