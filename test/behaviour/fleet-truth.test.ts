/**
 * Fleet runs tell the whole truth (issue 16): every host a target names or matches appears on the job
 * with a state. Offline, unknown, cordoned hosts and hosts without the operation are recorded as
 * `unreachable` or `skipped` with the reason and count against the job's status and exit code;
 * `only_ready` keeps the old "live, ready agents only" behaviour.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import type { Agent } from "../../src/agent/agent.js";
import { createAgent } from "../../src/agent/agent.js";
import { fleetExitCode } from "../../src/cli/fleet.js";
import { silentLogger } from "../../src/core/logger.js";
import type { AgentInfo } from "../../src/fleet/registry.js";
import { agentKey } from "../../src/fleet/registry.js";
import type { RunningApiServer } from "../../src/server/run.js";
import { callApi, runTestServer } from "../harness/app.js";
import type { TestClients } from "../harness/clients.js";
import { createTestClients } from "../harness/clients.js";
import { useNats, waitFor } from "../harness/nats.js";

const h = useNats();
const token = "fleet-truth-token-0123456789";

describe("fleet runs tell the whole truth", () => {
  let srv: RunningApiServer;
  let clients: TestClients;
  const agents: Agent[] = [];
  const call = (method: string, path: string, body?: unknown) => callApi(srv.url, token, method, path, body);
  /** The job once it is no longer running, read over both client transports (the same answer). */
  const finished = async (id: string, what: string) => {
    const j = await waitFor(
      async () => {
        const j = await clients.http.fleet.get(id);
        // The record's status is written first, the timeline's `finished` event just after it.
        const ended = j.timeline?.some((e) => e.event === "finished") ?? false;
        return j.status !== "running" && ended ? j : undefined;
      },
      { timeoutMs: 15_000, what },
    );
    assert.deepEqual(await clients.nats.fleet.get(id), j, `${what}: the same over NATS`);
    return j;
  };
  /** A registry entry for an agent that is not running (stale or silent, by its heartbeat). */
  const fakeAgent = (hostname: string, labels: Record<string, string>, heartbeatMs: number): AgentInfo => ({
    hostname,
    instance: `fake-${hostname}`,
    labels,
    facts: {},
    version: "test",
    pid: 1,
    started_at: new Date().toISOString(),
    heartbeat_ms: heartbeatMs,
    state: "ready",
    running: 0,
    concurrency: 1,
    operations: [{ name: "test.echo", kind: "query" }],
    queues: [],
  });
  const start = async (hostname: string, ops: string[]) =>
    agents.push(
      await createAgent({
        nats: h.nats.url,
        hostname,
        labels: { env: "prod" },
        builtins: false,
        logger: silentLogger,
        timings: { heartbeatMs: 200 },
        handlers: Object.fromEntries(
          ops.map((op) => [op, { kind: "query" as const, handler: () => hostname }]),
        ),
      }),
    );

  before(async () => {
    srv = await runTestServer(h.nats.url, [{ name: "admin", token, scope: "admin" }], {
      fleet: { timings: { ackWindowMs: 500, livenessCheckMs: 100 } },
    });
    clients = createTestClients({ url: srv.url, token, nats: h.nats.url });
    await start("p1", ["test.echo"]);
    await start("p2", ["test.echo"]);
    await start("p3", ["test.echo"]); // cordoned below
    await start("p5", ["other.op"]);
    // p-dead: an agent that stopped answering (its last heartbeat is stale).
    const dead = fakeAgent("p-dead", { env: "prod" }, 100);
    await srv.engine.ctx.buckets.agents.put(agentKey("p-dead"), JSON.stringify(dead));
    assert.equal((await call("POST", "/api/v1/workers/p3/drain")).status, 200);
    await waitFor(
      async () => {
        const r = await call("GET", "/api/v1/targets/resolve?target=env:prod&op=test.echo");
        const left = r.body.left_out as Array<{ host: string; reason: string }>;
        return (
          (r.body.hosts as string[]).join() === "p1,p2" &&
          left.some((l) => l.host === "p3" && /cordoned|draining/.test(l.reason)) &&
          left.some((l) => l.host === "p-dead" && /offline/.test(l.reason))
        );
      },
      { timeoutMs: 10_000, what: "the registry to show p3 cordoned and p-dead offline" },
    );
  });
  after(async () => {
    for (const a of agents) await a.close();
    await clients.close();
    await srv.close();
  });

  it("a label target lists offline, cordoned and unable hosts with reasons; the job is not completed", async () => {
    const r = await call("POST", "/api/v1/jobs", { op: "test.echo", target: "env:prod" });
    assert.equal(r.status, 201);
    const id = (r.body.job as { id: string }).id;
    const job = await finished(id, "the job to finish");
    const byHost = new Map(job.results.map((x) => [x.host, x]));
    assert.equal(job.status, "partial_failure");
    assert.equal(byHost.get("p1")?.state, "completed");
    assert.equal(byHost.get("p2")?.state, "completed");
    assert.equal(byHost.get("p3")?.state, "skipped");
    assert.match(byHost.get("p3")!.error!.message, /cordoned|draining/);
    assert.equal(byHost.get("p-dead")?.state, "unreachable");
    assert.match(byHost.get("p-dead")!.error!.message, /offline: last seen/);
    assert.equal(byHost.get("p5")?.state, "skipped");
    assert.match(byHost.get("p5")!.error!.message, /does not offer test\.echo/);
    assert.equal(job.counts.total, 5);
    assert.equal(job.counts.completed, 2);
    assert.equal(job.counts.skipped, 2);
    assert.equal(job.counts.unreachable, 1);
    assert.equal(fleetExitCode(job), 7, "hosts missing: exit 7");
    assert.equal(job.created_by, "admin", "the job records the token that created it");
  });

  it("only_ready keeps the old behaviour: live ready agents with the operation, nothing else", async () => {
    const r = await call("POST", "/api/v1/jobs", { op: "test.echo", target: "env:prod", only_ready: true });
    const id = (r.body.job as { id: string }).id;
    const job = await finished(id, "the job to finish");
    assert.equal(job.status, "completed");
    assert.deepEqual(job.results.map((x) => x.host).sort(), ["p1", "p2"]);
    assert.equal(fleetExitCode(job), 0);
  });

  it("a named host no agent has reported as is unreachable (unknown); the job is partial", async () => {
    const r = await call("POST", "/api/v1/jobs", { op: "test.echo", target: "L@p1,ghost-9" });
    const id = (r.body.job as { id: string }).id;
    const job = await finished(id, "the job to finish");
    assert.equal(job.status, "partial_failure");
    const ghost = job.results.find((x) => x.host === "ghost-9");
    assert.equal(ghost?.state, "unreachable");
    assert.match(ghost.error!.message, /unknown/);
  });

  it("a target that selects no host that can run it is refused with each host's reason", async () => {
    const r = await call("POST", "/api/v1/jobs", { op: "test.echo", target: "host:p3" });
    assert.equal(r.status, 422);
    const err = r.body.error as {
      code: string;
      message: string;
      details: { hosts: Array<{ host: string }> };
    };
    assert.equal(err.code, "no_targets");
    assert.match(err.message, /p3: the agent is (cordoned|draining)/);
    assert.deepEqual(
      err.details.hosts.map((x) => x.host),
      ["p3"],
    );
  });

  it("any fails over: a pick that does not acknowledge is moved to another candidate", async () => {
    // w-silent looks alive in the registry but never answers; it is the only web agent at first.
    const silent = fakeAgent("w-silent", { role: "web" }, 60_000);
    await srv.engine.ctx.buckets.agents.put(agentKey("w-silent"), JSON.stringify(silent));
    await waitFor(
      async () =>
        (
          (await call("GET", "/api/v1/targets/resolve?target=role:web:any&op=test.echo")).body
            .hosts as string[]
        ).join() === "w-silent",
      { what: "w-silent registered" },
    );
    const r = await call("POST", "/api/v1/jobs", { op: "test.echo", target: "role:web:any" });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const id = (r.body.job as { id: string; hosts: string[] }).id;
    assert.deepEqual((r.body.job as { hosts: string[] }).hosts, ["w-silent"]);
    // A healthy web agent joins; the silent pick's ack window (500 ms) passes.
    agents.push(
      await createAgent({
        nats: h.nats.url,
        hostname: "w-real",
        labels: { role: "web" },
        builtins: false,
        logger: silentLogger,
        timings: { heartbeatMs: 200 },
        handlers: { "test.echo": { kind: "query", handler: () => "from w-real" } },
      }),
    );
    const job = await finished(id, "the job to finish");
    assert.equal(job.status, "completed", JSON.stringify(job.results));
    assert.deepEqual(job.hosts, ["w-real"]);
    assert.deepEqual(job.moved_from, ["w-silent"]);
    assert.equal(job.results.length, 1);
    assert.equal(job.results[0]!.result, "from w-real");
    const moved = job.timeline!.find((e) => e.event === "moved");
    assert.equal(moved?.host, "w-silent");
    assert.equal(moved.data?.to, "w-real");
    assert.equal(moved.data?.try, 1);
    assert.equal(fleetExitCode(job), 0);
    await srv.engine.ctx.buckets.agents.delete(agentKey("w-silent"));
  });

  it("arguments are checked against the agents' published schemas before any dispatch; a modify op cannot run as a query", async () => {
    let runs = 0;
    agents.push(
      await createAgent({
        nats: h.nats.url,
        hostname: "schema-1",
        builtins: false,
        logger: silentLogger,
        timings: { heartbeatMs: 200 },
        handlers: {
          "app.scale": {
            kind: "modify",
            args: {
              type: "object",
              properties: { replicas: { type: "integer", minimum: 1 }, mode: { enum: ["fast", "safe"] } },
              required: ["replicas"],
              additionalProperties: false,
            },
            handler: (job) => {
              runs++;
              return job.args; // the object itself, also when sent as [obj]
            },
          },
        },
      }),
    );
    await waitFor(
      async () =>
        ((await call("GET", "/api/v1/targets/resolve?target=schema-1&op=app.scale")).body.hosts as string[])
          .length === 1,
      { what: "schema-1 online" },
    );
    const before = ((await call("GET", "/api/v1/jobs?op=app.scale")).body.jobs as unknown[]).length;
    for (const [args, path] of [
      [{ replicas: "three" }, "/replicas"],
      [{ replicas: 0 }, "/replicas"],
      [{}, ""],
      [{ replicas: 2, colour: "red" }, ""],
      [[{ replicas: 2, mode: "yolo" }], "/mode"],
    ] as const) {
      const r = await call("POST", "/api/v1/jobs", { op: "app.scale", target: "schema-1", args });
      assert.equal(r.status, 400, JSON.stringify(args));
      const err = r.body.error as {
        code: string;
        message: string;
        details: { issues: Array<{ path: string }>; hosts: string[] };
      };
      assert.equal(err.code, "invalid_request");
      assert.match(err.message, /Invalid arguments for 'app\.scale'/);
      assert.equal(err.details.issues[0]!.path, path, err.message);
      assert.deepEqual(err.details.hosts, ["schema-1"]);
    }
    const refusedKind = await call("POST", "/api/v1/jobs", {
      op: "app.scale",
      target: "schema-1",
      args: { replicas: 2 },
      kind: "query",
    });
    assert.equal(refusedKind.status, 400);
    assert.match(
      (refusedKind.body.error as { message: string }).message,
      /modify operation.*cannot run as a query/,
    );
    assert.equal(runs, 0, "nothing was dispatched");
    assert.equal(
      ((await call("GET", "/api/v1/jobs?op=app.scale")).body.jobs as unknown[]).length,
      before,
      "no job exists",
    );

    const ok = await clients.http.run("app.scale", {
      target: "schema-1",
      args: [{ replicas: 3, mode: "safe" }],
    });
    assert.equal(ok.status, "completed");
    assert.equal(ok.op_kind, "modify");
    assert.deepEqual(ok.results[0]!.result, { replicas: 3, mode: "safe" });
    const w = await clients.http.workers.get("schema-1");
    assert.deepEqual(w.operations.find((o) => o.name === "app.scale")?.args_schema?.required, ["replicas"]);
  });

  it("a handler's progress and log lines reach the timeline while it runs", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    agents.push(
      await createAgent({
        nats: h.nats.url,
        hostname: "prog-1",
        builtins: false,
        logger: silentLogger,
        timings: { heartbeatMs: 200 },
        handlers: {
          "test.steps": {
            kind: "query",
            handler: async (job) => {
              job.log("step 1 of 2");
              job.progress({ done: 1, of: 2 });
              await gate;
              job.log("step 2 of 2");
              return "done";
            },
          },
        },
      }),
    );
    await waitFor(
      async () =>
        ((await call("GET", "/api/v1/targets/resolve?target=prog-1&op=test.steps")).body.hosts as string[])
          .length === 1,
      { what: "prog-1 online" },
    );
    const r = await call("POST", "/api/v1/jobs", { op: "test.steps", target: "prog-1" });
    const id = (r.body.job as { id: string }).id;
    const running = await waitFor(
      async () => {
        const j = await clients.http.fleet.get(id);
        const host = j.results[0]!;
        return host.state === "running" && host.progress !== undefined && host.last_output !== undefined
          ? j
          : undefined;
      },
      { what: "progress and the first line while the handler waits" },
    );
    assert.deepEqual(running.results[0]!.progress, { done: 1, of: 2 });
    assert.equal(running.results[0]!.last_output, "step 1 of 2");
    assert.ok(
      running.timeline!.some((e) => e.event === "output" && (e.data?.lines as string[])[0] === "step 1 of 2"),
    );
    release();
    const job = await finished(id, "the job to finish");
    assert.equal(job.status, "completed");
    const events = job.timeline!.filter((e) => e.host === "prog-1").map((e) => e.event);
    assert.ok(
      events.lastIndexOf("output") < events.indexOf("completed"),
      `every line is stored before the result (${events.join(", ")})`,
    );
  });

  it("command.exec: a non-zero exit, false, a signal or its timeout make the host failed, with exit code and output", async () => {
    const exec = await createAgent({
      nats: h.nats.url,
      hostname: "exec-1",
      builtins: true,
      logger: silentLogger,
      timings: { heartbeatMs: 200 },
      ops: { commandExec: { enabled: true, timeoutMs: 60_000, maxOutputBytes: 1024 * 1024 } },
    });
    agents.push(exec);
    await waitFor(
      async () =>
        ((await call("GET", "/api/v1/targets/resolve?target=exec-1&op=command.exec")).body.hosts as string[])
          .length === 1,
      { what: "exec-1 online" },
    );
    const run = async (args: unknown) => {
      const r = await call("POST", "/api/v1/jobs", { op: "command.exec", target: "exec-1", args });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      const id = (r.body.job as { id: string }).id;
      return finished(id, "the command to finish");
    };
    const three = await run({ command: "sh", args: ["-c", "echo partial; echo broke >&2; exit 3"] });
    assert.equal(three.status, "failed");
    const host = three.results[0]!;
    assert.equal(host.state, "failed");
    assert.equal(host.error?.code, "command_failed");
    assert.match(host.error.message, /exited with code 3: broke/);
    const out = host.result as { exit_code: number; stdout: string; stderr: string };
    assert.equal(out.exit_code, 3);
    assert.equal(out.stdout, "partial\n");
    assert.equal(out.stderr, "broke\n");
    assert.equal(fleetExitCode(three), 1, "a failed command fails the CLI");

    assert.equal((await run({ command: "false" })).results[0]!.state, "failed");
    const killed = await run({ command: "sh", args: ["-c", "kill -KILL $$"] });
    assert.equal(killed.results[0]!.error?.code, "command_killed");
    const slow = await run({ command: "sleep", args: ["5"], timeout_ms: 200 });
    assert.equal(slow.results[0]!.state, "failed");
    assert.equal(slow.results[0]!.error?.code, "command_timeout");
    // Bad arguments of a built-in are refused before dispatch (its zod schema, published as JSON Schema).
    const bad = await call("POST", "/api/v1/jobs", {
      op: "command.exec",
      target: "exec-1",
      args: { cmd: "ls" },
    });
    assert.equal(bad.status, 400);
    assert.match((bad.body.error as { message: string }).message, /command.*required|unknown field 'cmd'/);
    const ok = await run({ command: "echo", args: ["fine"] });
    assert.equal(ok.status, "completed");
    assert.equal((ok.results[0]!.result as { stdout: string }).stdout, "fine\n");
  });
});
