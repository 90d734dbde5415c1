/**
 * Fleet dispatch against a real nats-server: six agents with different hostnames, hierarchical labels
 * and facts; every target form selects exactly the right hosts and runs there once; `any` runs on
 * exactly one agent; drain and run-time labels change what targets select; the SDK over both
 * transports (HTTP API and NATS, the latter with a fleet controller of its own) gives per-host
 * results, timelines, cancel, retry and delete.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import type { Agent } from "../../src/agent/agent.js";
import { createAgent } from "../../src/agent/agent.js";
import type { Client } from "../../src/client/client.js";
import type { HostResult } from "../../src/client/fleet.js";
import { ErrorCode, isJetjobError } from "../../src/core/errors.js";
import { silentLogger } from "../../src/core/logger.js";
import type { RunningApiServer } from "../../src/server/run.js";
import { fastKv } from "../../src/store/infra/kvfast.js";
import { runTestServer } from "../harness/app.js";
import type { TestClients } from "../harness/clients.js";
import { createTestClients, transports } from "../harness/clients.js";
import { fleetExitCode } from "../../src/cli/fleet.js";
import { useNats, waitFor } from "../harness/nats.js";

const h = useNats();
const token = "fleet-test-token-123456";

const fleet = [
  { host: "web-01", labels: { group: "web.dev.us-east", role: "web", env: "dev" }, os: "debian", cores: 4 },
  { host: "web-02", labels: { group: "web.dev.eu-west", role: "web", env: "dev" }, os: "ubuntu", cores: 2 },
  { host: "web-03", labels: { group: "web.prod", role: "web", env: "prod" }, os: "debian", cores: 8 },
  { host: "db-01", labels: { group: "db.prod", role: "db", env: "prod" }, os: "debian", cores: 16 },
  { host: "db-02", labels: { group: "db.dev", role: "db", env: "dev" }, os: "ubuntu", cores: 16 },
  { host: "build-box", labels: { group: "web.development", role: "ci" }, os: "alpine", cores: 32 },
];
const allHosts = fleet.map((f) => f.host).sort();

describe("fleet dispatch", () => {
  let srv: RunningApiServer;
  let clients: TestClients;
  const agents: Agent[] = [];
  const runs = new Map<string, string[]>(); // job id → hosts that ran it

  before(async () => {
    srv = await runTestServer(h.nats.url, [{ name: "admin", token, scope: "admin" }], {
      fleet: { timings: { ackWindowMs: 500, livenessCheckMs: 100 } },
    });
    clients = createTestClients({ url: srv.url, token, nats: h.nats.url });
    const note = (id: string, host: string) => runs.set(id, [...(runs.get(id) ?? []), host]);
    for (const f of fleet) {
      agents.push(
        await createAgent({
          nats: h.nats.url,
          hostname: f.host,
          labels: f.labels,
          facts: { "os.name": f.os, "cpu.cores": f.cores },
          builtins: f.host === "web-01",
          logger: silentLogger,
          timings: { heartbeatMs: 200 },
          handlers: {
            "test.echo": {
              kind: "query",
              handler: (job) => (note(job.id, job.hostname), { host: job.hostname, args: job.args }),
            },
            "test.flaky": {
              kind: "modify",
              handler: (job) => {
                note(job.id, job.hostname);
                if (job.hostname.startsWith("db-")) throw new Error(`no luck on ${job.hostname}`);
                return "ok";
              },
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
    for (const transport of transports) {
      await waitFor(async () => (await clients[transport].workers.list()).length === fleet.length, {
        what: `six agents online (${transport})`,
      });
    }
  });
  after(async () => {
    for (const a of agents) await a.close();
    await clients.close();
    await srv.close();
  });

  const targets: Array<[string, string[]]> = [
    ["all", allHosts],
    ["web-01", ["web-01"]],
    ["host:db-02", ["db-02"]],
    ["group:web", ["build-box", "web-01", "web-02", "web-03"]], // web.development is under web
    ["group:web.dev", ["web-01", "web-02"]],
    ["group:web.dev.us-east", ["web-01"]],
    ["role:web,env:prod", ["web-03"]],
    ["web-*", ["web-01", "web-02", "web-03"]],
    ["E@^db-\\d+$", ["db-01", "db-02"]],
    ["G@os.name=debian", ["db-01", "web-01", "web-03"]],
    ["G@cpu.cores>=16", ["build-box", "db-01", "db-02"]],
    ["G@cpu.cores<4", ["web-02"]],
    ["L@web-02,db-01", ["db-01", "web-02"]],
    ["(group:web or group:db) and not env:dev", ["build-box", "db-01", "web-03"]],
    ["group:web.dev and not env:prod", ["web-01", "web-02"]], // not web.development
    ["web-* and G@os.name=debian and not E@-03$", ["web-01"]],
    ["not role:web", ["build-box", "db-01", "db-02"]],
  ];
  for (const transport of transports) {
    describe(transport, () => {
      let client: Client;
      before(() => {
        client = clients[transport];
      });

      for (const [target, expected] of targets) {
        it(`target ${target} runs on exactly ${expected.join(", ")}`, async () => {
          const job = await client.run("test.echo", { target, args: { n: 1 } });
          assert.equal(job.status, "completed");
          assert.deepEqual(job.hosts, expected);
          assert.deepEqual(job.results.map((r) => r.host).sort(), expected);
          for (const r of job.results) assert.deepEqual(r.result, { host: r.host, args: { n: 1 } });
          assert.deepEqual(
            (runs.get(job.id) ?? []).sort(),
            expected,
            "each selected host ran it once, no other",
          );
          assert.equal(fleetExitCode(job), 0);
        });
      }

      it("`any` runs each job on exactly one agent, spread over the fleet", async () => {
        const jobs = [];
        for (let i = 0; i < 24; i++) jobs.push(await client.run("test.echo", { target: "any" }));
        const used = new Set<string>();
        for (const job of jobs) {
          assert.equal(job.hosts.length, 1);
          assert.equal(job.status, "completed");
          assert.deepEqual(runs.get(job.id), job.hosts, "ran on the chosen host only, once");
          used.add(job.hosts[0]!);
        }
        assert.ok(used.size >= 3, `load-balanced over several agents (used ${[...used].join(", ")})`);
        for (let i = 0; i < 8; i++) {
          const job = await client.run("test.echo", { target: "role:web:any" });
          assert.equal(job.hosts.length, 1);
          assert.match(job.hosts[0]!, /^web-0[123]$/);
          assert.deepEqual(runs.get(job.id), job.hosts);
        }
      });

      it("streams each host's result as it arrives", async () => {
        const seen: HostResult[] = [];
        for await (const r of client.run("test.echo", { target: "group:db" })) seen.push(r);
        assert.deepEqual(seen.map((r) => r.host).sort(), ["db-01", "db-02"]);
        assert.ok(seen.every((r) => r.state === "completed"));
      });

      it("refuses targets that match nothing or do not parse, saying why", async () => {
        await assert.rejects(client.run("test.echo", { target: "group:nope" }).created, (err: unknown) => {
          assert.ok(isJetjobError(err));
          assert.equal(err.code, ErrorCode.NoTargets);
          return true;
        });
        await assert.rejects(
          client.run("system.hostname.get", { target: "group:db" }).created,
          (err: unknown) => {
            assert.ok(isJetjobError(err) && err.code === ErrorCode.NoTargets);
            assert.equal(err.details?.matched, 2, "matched two agents, but they do not offer the operation");
            return true;
          },
        );
        await assert.rejects(
          client.run("test.echo", { target: "group:web and (" }).created,
          (err: unknown) => {
            assert.ok(isJetjobError(err) && err.code === ErrorCode.InvalidRequest);
            assert.equal(err.details?.position, 15);
            return true;
          },
        );
      });

      it("built-in operations run where they are offered", async () => {
        const job = await client.run("system.hostname.get", { target: "all" });
        assert.deepEqual(job.hosts, ["web-01"], "only web-01 offers built-ins here");
        assert.equal((job.results[0]!.result as { hostname: string }).hostname, "web-01");
      });

      it("records an append-only timeline per host", async () => {
        const job = await client.run("test.echo", { target: "L@web-02,db-02" });
        const full = await client.fleet.get(job.id);
        const events = full.timeline!.map((e) => `${e.event}${e.host ? `@${e.host}` : ""}`);
        assert.equal(events[0], "submitted");
        assert.equal(events.at(-1), "finished");
        for (const host of ["web-02", "db-02"]) {
          const mine = events.filter((e) => e.endsWith(`@${host}`));
          assert.deepEqual(mine, [`acknowledged@${host}`, `started@${host}`, `completed@${host}`]);
        }
        for (const r of full.results) {
          assert.ok(r.acknowledged_at && r.started_at && r.finished_at && r.duration_ms !== undefined);
        }
      });

      it("drain takes an agent out of targets; undrain brings it back", async () => {
        await client.workers.drain("web-01");
        await waitFor(async () => (await client.workers.get("web-01")).state === "cordoned", {
          what: "web-01 cordoned",
        });
        assert.deepEqual(await client.fleet.resolve("group:web.dev"), ["web-02"]);
        await client.workers.undrain("web-01");
        await waitFor(async () => (await client.workers.get("web-01")).state === "ready", {
          what: "web-01 ready",
        });
        assert.deepEqual((await client.fleet.resolve("group:web.dev")).sort(), ["web-01", "web-02"]);
      });

      it("labels change at run time and lists filter by label", async () => {
        assert.deepEqual(
          (await client.workers.list({ label: "group:web" })).map((w) => w.hostname),
          ["build-box", "web-01", "web-02", "web-03"],
        );
        await client.workers.setLabels("db-02", { role: "cache", group: "db.dev" });
        await waitFor(async () => (await client.workers.get("db-02")).labels.role === "cache", {
          what: "new labels",
        });
        const job = await client.run("test.echo", { target: "role:cache" });
        assert.deepEqual(job.hosts, ["db-02"]);
        await client.workers.setLabels("db-02", null);
        await waitFor(async () => (await client.workers.get("db-02")).labels.role === "db", {
          what: "labels restored",
        });
      });

      it("partial failure, then retry runs again only where it failed (a new, linked job)", async () => {
        const job = await client.run("test.flaky", { target: "all" });
        assert.equal(job.status, "partial_failure");
        assert.equal(job.counts.completed, 4);
        assert.equal(job.counts.failed, 2);
        assert.equal(fleetExitCode(job), 1);
        const failed = job.results.filter((r) => r.state === "failed");
        assert.deepEqual(
          failed.map((r) => r.host),
          ["db-01", "db-02"],
        );
        assert.match(failed[0]!.error!.message, /no luck on db-01/);
        const again = await client.fleet.retry(job.id);
        assert.equal(again.job.target, "L@db-01,db-02");
        assert.equal(again.job.retry_of, job.id);
        await waitFor(async () => (await client.fleet.get(again.job.id)).status !== "running", {
          what: "retry done",
        });
        assert.deepEqual((runs.get(again.job.id) ?? []).sort(), ["db-01", "db-02"]);
        const old = await client.fleet.get(job.id);
        assert.ok(old.timeline!.some((e) => e.event === "retried" && e.data?.new_job_id === again.job.id));
      });

      it("cancel stops running hosts; delete removes a finished job", async () => {
        const run = client.run("test.block", { target: "group:web.dev" });
        const created = await run.created;
        await waitFor(() => (runs.get(created.id) ?? []).length === 2, { what: "both hosts started" });
        const cancelled = await client.fleet.cancel(created.id);
        assert.equal(cancelled.status, "cancelled");
        assert.equal(cancelled.counts.cancelled, 2);
        const final = await run;
        assert.equal(final.status, "cancelled");
        await client.fleet.delete(created.id);
        await assert.rejects(
          client.fleet.get(created.id),
          (err: unknown) => isJetjobError(err) && err.code === ErrorCode.NotFound,
        );
      });

      it("an agent with --queue also runs OJS queue jobs of its operations", async () => {
        const qa = await createAgent({
          nats: h.nats.url,
          hostname: "queue-box",
          queues: ["agents"],
          builtins: true,
          logger: silentLogger,
        });
        try {
          const job = await client.enqueue("system.hostname.get", [], { queue: "agents" });
          const done = await client.waitFor(job.id, { timeoutMs: 10_000 });
          assert.equal(done.state, "completed");
          assert.equal((done.result as { hostname: string }).hostname, "queue-box");
        } finally {
          await qa.close();
        }
      });

      it("lists targeted jobs newest first with filters and a cursor", async () => {
        const first = await client.fleet.list({ limit: 3 });
        assert.equal(first.jobs.length, 3);
        assert.ok(first.next_cursor);
        const second = await client.fleet.list({ limit: 3, cursor: first.next_cursor });
        assert.ok(second.jobs.every((j) => j.id < first.jobs[2]!.id));
        const partial = await client.fleet.list({ status: "partial_failure" });
        assert.ok(partial.jobs.length >= 1 && partial.jobs.every((j) => j.status === "partial_failure"));
        const onDb = await client.fleet.list({ host: "db-02", op: "test.flaky" });
        assert.ok(
          onDb.jobs.length >= 2 && onDb.jobs.every((j) => j.hosts.includes("db-02") && j.op === "test.flaky"),
        );
      });
    });
  }

  it("lists every stored job exactly once while their records are being rewritten", async () => {
    // A listing used to stream the bucket's keys through a consumer, which repeated or left out a key
    // whose record was rewritten meanwhile (as each host's result rewrites a running job's record).
    const jobs = await Promise.all(
      Array.from({ length: 20 }, async () => await clients.http.run("test.echo", { target: "web-01" })),
    );
    assert.ok(jobs.every((j) => j.status === "completed"));
    const ids = jobs.map((j) => j.id).sort();
    const records = fastKv<unknown>(srv.engine.ctx, srv.engine.ctx.topology.buckets.fleet);
    let stop = false;
    const rewrite = (async () => {
      for (let i = 0; !stop; i++) {
        const key = `j.${ids[i % ids.length]!}`;
        const r = await records.get(key);
        await records.update(key, r.value, r.revision); // the same record, a new revision
      }
    })();
    try {
      for (let n = 0; n < 40; n++) {
        const listed = (await clients.http.fleet.list({ limit: 500 })).jobs.map((j) => j.id);
        const ours = listed.filter((id) => ids.includes(id)).sort();
        assert.deepEqual(ours, ids, `listing ${n}: each job once`);
      }
    } finally {
      stop = true;
      await rewrite;
    }
  });
});
