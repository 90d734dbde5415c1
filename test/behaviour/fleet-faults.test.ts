/**
 * Fleet dispatch when things go wrong, against a real nats-server and real processes: an agent killed
 * mid-job, an agent that never answers (re-sent once, then unreachable), a deadline, a controller
 * killed mid-job (another takes it over with a new epoch), and fencing on the agent (stale epochs
 * refused, no (job, epoch) run twice, a modify job never re-run after an agent restart), and an agent
 * stopped with SIGTERM (graceful by default).
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";

import type { NatsConnection } from "@nats-io/nats-core";

import type { Agent } from "../../src/agent/agent.js";
import { createAgent } from "../../src/agent/agent.js";
import type { AgentHandler } from "../../src/agent/types.js";
import { silentLogger } from "../../src/core/logger.js";
import type { Controller } from "../../src/fleet/controller.js";
import { createController } from "../../src/fleet/controller.js";
import { newFleetId } from "../../src/fleet/ids.js";
import { getFleetJob } from "../../src/fleet/jobs.js";
import type { AgentInfo } from "../../src/fleet/registry.js";
import { agentKey } from "../../src/fleet/registry.js";
import { readTimeline } from "../../src/fleet/timeline.js";
import type { DispatchRequest, FleetJobView, FleetRecord } from "../../src/fleet/types.js";
import { fleetExitCode } from "../../src/cli/fleet.js";
import type { StoreContext } from "../../src/store/infra/context.js";
import { createStoreContext } from "../../src/store/infra/context.js";
import { fastKv } from "../../src/store/infra/kvfast.js";
import { isConflict, isNotFound } from "../../src/core/errors.js";
import { forgetWorker } from "../../src/fleet/workers.js";
import { hostToken } from "../../src/store/infra/topology.js";
import { useNats, waitFor } from "../harness/nats.js";
import { spawnFixture } from "../harness/process.js";

const h = useNats();
const agentScript = fileURLToPath(new URL("../fixtures/agent-process.ts", import.meta.url));
const controllerScript = fileURLToPath(new URL("../fixtures/controller-process.ts", import.meta.url));
const enc = new TextEncoder();

describe("fleet dispatch under faults", () => {
  let nc: NatsConnection;
  let ctx: StoreContext;
  let ctl: Controller;
  const agents: Agent[] = [];
  const ran: Array<{ id: string; host: string; epoch: number }> = [];
  let gate: () => void = () => undefined;
  let gateOpen = new Promise<void>((r) => (gate = r));

  const handlers: Record<string, AgentHandler | { kind: "query" | "modify"; handler: AgentHandler }> = {
    "test.echo": {
      kind: "query",
      handler: (job) => (ran.push({ id: job.id, host: job.hostname, epoch: job.epoch }), "ok"),
    },
    "test.change": {
      kind: "modify",
      handler: (job) => (ran.push({ id: job.id, host: job.hostname, epoch: job.epoch }), "changed"),
    },
    "test.hang": { kind: "query", handler: () => "done at once here" },
    "test.slow": {
      kind: "query",
      handler: (job) =>
        new Promise((_, reject) =>
          job.signal.addEventListener("abort", () => reject(job.signal.reason as Error)),
        ),
    },
    "test.gated": {
      kind: "query",
      handler: async (job) => {
        ran.push({ id: job.id, host: job.hostname, epoch: job.epoch });
        await gateOpen;
        return "through the gate";
      },
    },
  };
  const startAgent = async (hostname: string, labels: string[]) => {
    const a = await createAgent({
      nats: h.nats.url,
      hostname,
      labels,
      builtins: false,
      logger: silentLogger,
      timings: { heartbeatMs: 150 },
      handlers,
    });
    agents.push(a);
    return a;
  };
  const finished = (id: string, timeoutMs = 15_000) =>
    waitFor(
      async () => {
        const j = await getFleetJob(ctl, id);
        return j.status === "running" ? undefined : j;
      },
      { timeoutMs, what: `job ${id} to finish` },
    );
  const hostOf = (j: FleetJobView, host: string) => j.results.find((r) => r.host === host)!;

  before(async () => {
    nc = await h.nats.connect();
    ctx = await createStoreContext(nc);
    ctl = await createController(ctx, {
      timings: {
        livenessCheckMs: 100,
        reclaimScanMs: 150,
        reclaimAfterMisses: 2,
        controllerHeartbeatMs: 100,
      },
    });
    await startAgent("alpha", ["pool:fault"]);
    await startAgent("beta", ["pool:fault"]);
  });
  after(async () => {
    gate();
    for (const a of agents) await a.close();
    await ctl.close();
    ctx.close();
    await nc.close();
  });

  it("an SDK agent stops gracefully on SIGTERM by default: exits 0 and leaves the registry", async () => {
    const victim = spawnFixture(agentScript, [h.nats.url, "delta", "150", "pool:term"]);
    await victim.line(/^ready$/);
    await waitFor(() => ctl.resolve("pool:term").dispatch.length === 1, { what: "delta registered" });
    const exited = new Promise<[number | null, NodeJS.Signals | null]>((r) =>
      victim.child.once("exit", (code, signal) => r([code, signal])),
    );
    await victim.kill("SIGTERM");
    // Killed by the signal (code null, signal SIGTERM) when the agent does not handle it.
    assert.deepEqual(await exited, [0, null]);
    await waitFor(() => ctl.resolve("pool:term").dispatch.length === 0, {
      what: "delta gone from the registry",
    });
  });

  it("an agent killed mid-job is unreachable; the others complete (partial_failure, exit 7)", async () => {
    const victim = spawnFixture(agentScript, [h.nats.url, "gamma", "150", "pool:fault"]);
    await victim.line(/^ready$/);
    await waitFor(() => ctl.resolve("pool:fault").dispatch.length === 3, { what: "gamma registered" });
    const rec = await ctl.create({ op: "test.hang", target: "pool:fault", timeoutMs: 20_000 });
    await victim.line(new RegExp(`^started ${rec.id}$`));
    const t0 = Date.now();
    await victim.kill("SIGKILL");
    const job = await finished(rec.id);
    const tookMs = Date.now() - t0;
    assert.equal(job.status, "partial_failure");
    assert.equal(hostOf(job, "alpha").state, "completed");
    assert.equal(hostOf(job, "beta").state, "completed");
    assert.equal(hostOf(job, "gamma").state, "unreachable");
    assert.match(hostOf(job, "gamma").error!.message, /offline/);
    assert.ok(tookMs < 5_000, `noticed within a few heartbeats, not at the 20 s deadline (${tookMs} ms)`);
    assert.equal(fleetExitCode(job), 7);

    // The dead host stays on later runs of the same target (unreachable) until an operator forgets it.
    assert.deepEqual(
      ctl.resolve("pool:fault").leftOut.map((l) => [l.host, l.state]),
      [["gamma", "unreachable"]],
    );
    await assert.rejects(forgetWorker(ctl, "alpha"), (err: unknown) => isConflict(err));
    await assert.rejects(forgetWorker(ctl, "nobody"), (err: unknown) => isNotFound(err));
    assert.equal((await forgetWorker(ctl, "gamma")).hostname, "gamma");
    await waitFor(() => ctl.registry.agent("gamma") === undefined, { what: "gamma forgotten" });
    assert.deepEqual(ctl.resolve("pool:fault").leftOut, []);
  });

  it("a silent target is sent the job once more after the ack window, then marked unreachable", async () => {
    const ghost: AgentInfo = {
      hostname: "ghost",
      instance: "agt-ghost",
      labels: { pool: "ghosts" },
      facts: {},
      version: "test",
      pid: 1,
      started_at: new Date().toISOString(),
      heartbeat_ms: 60_000,
      state: "ready",
      running: 0,
      concurrency: 1,
      operations: [{ name: "test.echo", kind: "query" }],
      queues: [],
    };
    let received = 0;
    const sub = nc.subscribe(ctx.subjects.fleetDispatch(hostToken("ghost")), {
      callback: () => void received++,
    });
    await ctx.buckets.agents.put(agentKey("ghost"), JSON.stringify(ghost));
    await waitFor(() => ctl.resolve("host:ghost").dispatch.length === 1, { what: "ghost in the registry" });
    const rec = await ctl.create({
      op: "test.echo",
      target: "L@ghost,alpha",
      ackWindowMs: 200,
      timeoutMs: 20_000,
    });
    const job = await finished(rec.id);
    sub.unsubscribe();
    await ctx.buckets.agents.delete(agentKey("ghost"));
    assert.equal(received, 2, "the original dispatch and one re-send");
    assert.equal(job.status, "partial_failure");
    assert.equal(hostOf(job, "ghost").state, "unreachable");
    assert.equal(hostOf(job, "alpha").state, "completed");
    const ghostEvents = job.timeline!.filter((e) => e.host === "ghost").map((e) => e.event);
    assert.deepEqual(ghostEvents, ["resent", "unreachable"]);
  });

  it("the deadline ends a job: a host still running is timed out and its handler aborted", async () => {
    const rec = await ctl.create({ op: "test.slow", target: "host:alpha", timeoutMs: 400 });
    const job = await finished(rec.id);
    assert.equal(job.status, "timeout");
    const alpha = hostOf(job, "alpha");
    assert.ok(
      alpha.state === "timeout" || (alpha.state === "failed" && alpha.error?.code === "timeout"),
      alpha.state,
    );
    assert.equal(fleetExitCode(job), 7);
  });

  it("a killed controller's job is taken over by another and finished, with a new epoch", async () => {
    gateOpen = new Promise<void>((r) => (gate = r));
    const owner = spawnFixture(controllerScript, [h.nats.url, "test.gated", "pool:fault"]);
    const line = await owner.line(/^job /);
    const [, id, deadOwner] = line.split(" ");
    await waitFor(() => ran.filter((r) => r.id === id).length === 2, { what: "both agents started" });
    await owner.kill("SIGKILL");
    await waitFor(() => ctl.owned().includes(id!), { timeoutMs: 10_000, what: "the job taken over" });
    gate();
    const job = await finished(id!);
    assert.equal(job.status, "completed");
    assert.equal(job.owner, ctl.id);
    assert.notEqual(job.owner, deadOwner);
    assert.equal(job.epoch, 2);
    assert.equal(job.reclaims, 1);
    assert.ok(job.timeline!.some((e) => e.event === "reclaimed" && e.data?.from === deadOwner));
    assert.equal(
      ran.filter((r) => r.id === id).length,
      2,
      "each agent ran it once; the takeover did not re-send",
    );
  });

  it("a job taken over too often is finished as failed instead (reclaim cap)", async () => {
    const records = fastKv<FleetRecord>(ctx, ctx.topology.buckets.fleet);
    const now = Date.now();
    const rec: FleetRecord = {
      v: 1,
      id: newFleetId(),
      op: "test.echo",
      kind: "query",
      args: [],
      target: "alpha",
      hosts: ["alpha"],
      created_at: now,
      deadline_at: now + 60_000,
      ack_window_ms: 60_000,
      status: "running",
      owner: "ctl-long-gone",
      epoch: 4,
      reclaims: 3,
    };
    await records.update(`j.${rec.id}`, rec, 0);
    await ctx.buckets.fleet.put(`x.${rec.id}`, "ctl-long-gone");
    const job = await finished(rec.id);
    assert.equal(job.status, "failed");
    assert.match(job.reason ?? "", /reclaim cap 3/);
    assert.equal(job.epoch, 5);
    assert.equal(ran.filter((r) => r.id === rec.id).length, 0, "not sent again");
    assert.equal(
      await ctx.buckets.fleet.get(`x.${rec.id}`).then((e) => e?.operation),
      "DEL",
      "left the running index",
    );
  });

  it("agents refuse a stale epoch, never run a (job, epoch) twice, and never re-run a modify job", async () => {
    const records = fastKv<FleetRecord>(ctx, ctx.topology.buckets.fleet);
    const now = Date.now();
    const put = async (rec: FleetRecord) => {
      const cur = await records.get(`j.${rec.id}`);
      await records.update(`j.${rec.id}`, rec, cur.revision);
    };
    const send = (rec: FleetRecord, epoch: number) => {
      const req: DispatchRequest = {
        id: rec.id,
        op: rec.op,
        kind: rec.kind,
        args: [],
        epoch,
        deadline_at: rec.deadline_at,
      };
      nc.publish(ctx.subjects.fleetDispatch(hostToken("beta")), enc.encode(JSON.stringify(req)));
    };
    const base = (op: string, kind: "query" | "modify"): FleetRecord => ({
      v: 1,
      id: newFleetId(),
      op,
      kind,
      args: [],
      target: "beta",
      hosts: ["beta"],
      created_at: now,
      deadline_at: now + 60_000,
      ack_window_ms: 60_000,
      status: "running",
      owner: "nobody",
      epoch: 3,
      reclaims: 2,
    });
    const runsOf = (id: string) => ran.filter((r) => r.id === id);
    const eventsOf = async (id: string) => (await readTimeline(ctx, id)).map((e) => `${e.e}:${e.ep}`);

    // A dispatch from a controller that lost the job (epoch 2 < 3) is refused, then the owner's runs once.
    const q = base("test.echo", "query");
    await put(q);
    send(q, 2);
    await waitFor(async () => (await eventsOf(q.id)).includes("refused:2"), { what: "stale epoch refused" });
    assert.equal(runsOf(q.id).length, 0);
    send(q, 3);
    await waitFor(async () => (await eventsOf(q.id)).includes("completed:3"), { what: "epoch 3 ran" });
    send(q, 3); // the same (job, epoch) again
    send(q, 2);
    // A newer epoch of a query job may run again (safe to repeat); after it, the duplicates above
    // have been processed too (one connection, in order).
    await put({ ...q, epoch: 4 });
    send(q, 4);
    await waitFor(async () => (await eventsOf(q.id)).includes("completed:4"), { what: "epoch 4 ran" });
    assert.deepEqual(
      runsOf(q.id).map((r) => r.epoch),
      [3, 4],
    );

    // A modify job taken once is never run again, not by a restarted agent, not for a newer epoch.
    const m = base("test.change", "modify");
    await put(m);
    send(m, 3);
    await waitFor(async () => (await eventsOf(m.id)).includes("completed:3"), { what: "modify ran" });
    const beta = agents.find((a) => a.hostname === "beta")!;
    await beta.close();
    agents.splice(agents.indexOf(beta), 1);
    const beta2 = await startAgent("beta", ["pool:fault"]);
    assert.notEqual(beta2.instance, beta.instance);
    await put({ ...m, epoch: 5 });
    send(m, 5);
    send(q, 5); // and a query job with a newer epoch still runs on the restarted agent
    await put({ ...q, epoch: 5 });
    send(q, 5);
    await waitFor(async () => (await eventsOf(q.id)).includes("completed:5"), { what: "query epoch 5 ran" });
    assert.equal(runsOf(m.id).length, 1, "the modify job ran exactly once");
  });
});
