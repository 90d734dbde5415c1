/**
 * Retention through the server's doors, against a real nats-server: finished fleet jobs go with
 * their timeline and results after the fleet retention; `GET /api/v1/storage`, `client.storage()`
 * and `jetjob storage`; queue retention through the API, the SDK and `jetjob queue config`; the
 * OJS `options.retention` extension is validated at the edge.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import type { Agent } from "../../src/agent/agent.js";
import { createAgent } from "../../src/agent/agent.js";
import type { StorageInfo } from "../../src/client/index.js";
import { ErrorCode, isJetjobError } from "../../src/core/errors.js";
import { silentLogger } from "../../src/core/logger.js";
import type { RunningApiServer } from "../../src/server/run.js";
import { runTestServer } from "../harness/app.js";
import type { TestClients } from "../harness/clients.js";
import { createTestClients, transports } from "../harness/clients.js";
import { cli } from "../harness/cli.js";
import { useNats, waitFor } from "../harness/nats.js";

const h = useNats();
const token = "retention-api-token-123456";

describe("retention through the API, SDK and CLI", () => {
  let srv: RunningApiServer;
  let clients: TestClients;
  let agent: Agent;
  before(async () => {
    srv = await runTestServer(h.nats.url, [{ name: "admin", token, scope: "admin" }], {
      retention: { completedMs: 200, fleetMs: 300 },
      housekeeping: {
        walkIntervalMs: 50,
        tickMs: 25,
        journalGraceMs: 200,
        activeRecheckMaxMs: 200,
        leaseMs: 600,
      },
      fleet: { timings: { ackWindowMs: 500, livenessCheckMs: 100 } },
    });
    clients = createTestClients({ url: srv.url, token, nats: h.nats.url });
    agent = await createAgent({
      nats: h.nats.url,
      hostname: "ret-01",
      builtins: false,
      logger: silentLogger,
      timings: { heartbeatMs: 200 },
      handlers: { "test.echo": { kind: "query", handler: (job) => ({ echo: job.args }) } },
    });
    await waitFor(() => srv.engine.housekeeper?.leading, { what: "housekeeper elected" });
  });
  after(async () => {
    await agent.close();
    await clients.close();
    await srv.close();
  });

  // Over HTTP only: a fleet job's removal is scheduled with the retention of the process whose
  // controller creates it (the API server's here; a NATS client's own controller has the defaults).
  it("a finished fleet job goes after its retention, with its timeline and per-host results", async () => {
    const client = clients.http;
    const job = await waitFor(
      async () => {
        try {
          return await client.fleet.run("test.echo", { target: "ret-01", args: [1] });
        } catch {
          return undefined; // the agent is not in the registry yet
        }
      },
      { what: "fleet job run" },
    );
    assert.equal(job.status, "completed");
    const id = job.id;
    const ctx = srv.engine.ctx;
    const timelineCount = async () => {
      const subjects = ctx.subjects.fleetTimelineAll(id);
      const info = await ctx.jsm.streams.info(ctx.topology.streams.fleet, { subjects_filter: subjects });
      return Object.values(info.state.subjects ?? {}).reduce((a, b) => a + b, 0);
    };
    assert.ok((await timelineCount()) > 0);
    await waitFor(
      async () => {
        try {
          await client.fleet.get(id);
          return false;
        } catch (err) {
          return isJetjobError(err) && err.code === ErrorCode.NotFound;
        }
      },
      { what: "fleet job removed" },
    );
    assert.equal(await timelineCount(), 0, "timeline purged");
    assert.equal(await ctx.buckets.fleet.get(`j.${id}`), null, "record erased");
    assert.ok(srv.engine.housekeeper!.stats.removedFleetJobs >= 1);
  });

  for (const transport of transports) {
    it(`${transport}: queue retention through the SDK; the job option is validated at the edge`, async () => {
      const client = clients[transport];
      const q = `ra-q-${transport}`;
      const cfg = await client.queues.configure(q, {
        retention: { completedMs: 3_600_000, completedCount: 10 },
      });
      assert.deepEqual(cfg.retention, { completed_ms: 3_600_000, completed_count: 10 });
      const merged = await client.queues.configure(q, { retention: { discardedMs: 60_000 } });
      assert.deepEqual(merged.retention, {
        completed_ms: 3_600_000,
        discarded_ms: 60_000,
        completed_count: 10,
      });
      const reset = await client.queues.configure(q, { retention: null });
      assert.equal(reset.retention, undefined);
      await assert.rejects(
        client.queues.configure(q, { retention: { completedMs: -1 } }),
        (e) => isJetjobError(e) && e.code === ErrorCode.InvalidRequest,
      );
      await assert.rejects(
        client.enqueue("t.x", [], { queue: q, retention: { completedMs: 1.5 } }),
        (e) => isJetjobError(e) && e.code === ErrorCode.InvalidRequest,
      );
      const job = await client.enqueue("t.x", [], { queue: q, retention: { completedMs: 100 } });
      assert.equal(job.state, "available");
    });
  }

  it("GET /api/v1/storage and client.storage(): streams, buckets, housekeeper, removals due", async () => {
    for (const transport of transports) {
      const s: StorageInfo = await clients[transport].storage();
      assert.ok(s.resources.some((r) => r.name === "JJ_GC" && r.kind === "stream"));
      assert.ok(s.resources.some((r) => r.name === "KV_jj_fleet" && r.kind === "bucket"));
    }
    // The housekeeper and the retention in force are the answering process's: the API server's
    // over HTTP; over NATS the client's own, which runs no housekeeper.
    const s = await clients.http.storage();
    assert.equal(s.housekeeper.this_server, true);
    assert.equal(s.retention.defaults.fleet_ms, 300);
    assert.equal((await clients.nats.storage()).housekeeper.this_server, false);
    const r = await fetch(`${srv.url}/api/v1/storage`);
    assert.equal(r.status, 401, "needs a token");
  });

  it("jetjob storage (table and --json) and jetjob queue config --retain-*/--keep-*", async () => {
    const flags = ["--api", srv.url, "--token", token];
    const table = await cli(["storage", ...flags]);
    assert.equal(table.code, 0, table.stderr);
    for (const s of ["JJ_QUEUE", "KV_jj_ids", "housekeeper", "removal checks due next", "retention"])
      assert.ok(table.stdout.includes(s), s);
    const json = await cli(["storage", ...flags, "--json"]);
    assert.equal(json.code, 0, json.stderr);
    const parsed = JSON.parse(json.stdout) as StorageInfo;
    assert.ok(parsed.totals.bytes > 0);

    const set = await cli([
      "queue",
      "config",
      "ra-cli",
      ...flags,
      "--json",
      "--retain-completed",
      "1h",
      "--keep-completed",
      "100",
    ]);
    assert.equal(set.code, 0, set.stderr);
    assert.deepEqual((JSON.parse(set.stdout) as { retention: unknown }).retention, {
      completed_ms: 3_600_000,
      completed_count: 100,
    });
    const text = await cli(["queue", "config", "ra-cli", ...flags, "--retain-dead-letters", "30d"]);
    assert.match(text.stdout, /retention\s+completed 1h, at most ~100 completed, dead letters 30d/);
    const back = await cli(["queue", "config", "ra-cli", ...flags, "--json", "--default-retention"]);
    assert.equal((JSON.parse(back.stdout) as { retention?: unknown }).retention, undefined);
    const bad = await cli(["queue", "config", "ra-cli", ...flags, "--retain-completed", "soon"]);
    assert.notEqual(bad.code, 0);
  });
});
