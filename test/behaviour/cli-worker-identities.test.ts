/**
 * Queue workers as identities through the CLI against a zero-config `jetjob start` (docs/security.md):
 * `jetjob agent --enroll --queue Q` waits until `jetjob agent accept <host> --queue Q` and then runs
 * Q's jobs through the server's relay; an SDK worker with `identity` is listed as kind `worker`, is
 * accepted only with queues (`accept worker:<name> --queue Q`), runs them, and `revoke` cuts it off.
 */
import assert from "node:assert/strict";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";

import { silentLogger } from "../../src/core/logger.js";
import { createWorker } from "../../src/worker/worker.js";
import { cli, httpApi, spawnCli, useJetjob } from "../harness/cli.js";
import { waitFor } from "../harness/nats.js";

const j = useJetjob();

interface Row {
  hostname: string;
  kind: string;
  state: string;
  queues?: string[];
}

const identities = async (dir: string) => {
  const r = await cli(["agent", "identities", "--data-dir", dir, "--json"]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as Row[];
};

describe("queue workers as identities (CLI)", () => {
  it("jetjob agent --enroll --queue: accepted with the queue, it runs the queue's jobs", async () => {
    const dir = j.jetjob.dataDir;
    const api = httpApi(dir);
    const agent = spawnCli([
      "agent",
      "--enroll",
      "--hostname",
      "qagent-1",
      "--queue",
      "hostq",
      "--data-dir",
      dir,
    ]);
    try {
      const pending = await waitFor(
        async () => (await identities(dir)).find((x) => x.hostname === "qagent-1"),
        { timeoutMs: 20_000, what: "qagent-1 pending" },
      );
      assert.equal(pending.state, "pending");
      const acc = await cli(["agent", "accept", "qagent-1", "--queue", "hostq", "--data-dir", dir]);
      assert.equal(acc.code, 0, acc.stderr);
      assert.match(acc.stdout, /qagent-1: accepted \(queues hostq\)/);
      const job = await api.call<{ job: { id: string } }>("POST", "/ojs/v1/jobs", {
        type: "system.hostname.get",
        args: [],
        options: { queue: "hostq" },
      });
      const done = await waitFor(
        async () => {
          const r = await api.call<{ job: { state: string; worker_id?: string } }>(
            "GET",
            `/ojs/v1/jobs/${job.job.id}`,
          );
          return r.job.state === "completed" ? r.job : undefined;
        },
        { timeoutMs: 20_000, what: "the queue job to complete on the enrolled agent" },
      );
      assert.match(String(done.worker_id), /^agent:qagent-1\//, "run by the agent, as itself");
    } finally {
      agent.child.kill("SIGTERM");
      await agent.exited;
    }
    assert.doesNotMatch(agent.stderr() + agent.stdout(), /cannot be used with an agent identity/);
  });

  it("an SDK worker identity: listed as a worker, accepted only with queues, runs them, revoked", async () => {
    const dir = j.jetjob.dataDir;
    const api = httpApi(dir);
    const { nats } = JSON.parse(readFileSync(join(dir, "endpoints.json"), "utf8")) as { nats: string };
    const file = join(dir, "worker-etl-1.identity.json");
    const worker = createWorker({
      nats,
      identity: { name: "etl-1", file },
      queues: ["etl"],
      handlers: { "etl.run": (job) => ({ echoed: job.args[0] }) },
      handleSignals: false,
      logger: silentLogger,
    });
    try {
      const pending = await waitFor(
        async () => (await identities(dir)).find((x) => x.hostname === "etl-1" && x.kind === "worker"),
        { timeoutMs: 20_000, what: "worker etl-1 pending" },
      );
      assert.equal(pending.state, "pending");
      assert.equal(statSync(file).mode & 0o777, 0o600);
      const table = await cli(["agent", "pending", "--data-dir", dir]);
      assert.match(table.stdout, /KIND/);
      assert.match(table.stdout, /worker:etl-1\s+worker\s+pending/);

      const noQueue = await cli(["agent", "accept", "worker:etl-1", "--data-dir", dir]);
      assert.notEqual(noQueue.code, 0, "a worker is not accepted without queues");
      assert.match(noQueue.stderr + noQueue.stdout, /--queue/);
      const acc = await cli(["agent", "accept", "worker:etl-1", "--queue", "etl", "--data-dir", dir]);
      assert.equal(acc.code, 0, acc.stderr);
      await worker.ready;
      const job = await api.call<{ job: { id: string } }>("POST", "/ojs/v1/jobs", {
        type: "etl.run",
        args: ["x"],
        options: { queue: "etl" },
      });
      await waitFor(
        async () => {
          const r = await api.call<{ job: { state: string; result?: unknown } }>(
            "GET",
            `/ojs/v1/jobs/${job.job.id}`,
          );
          return r.job.state === "completed" ? r.job : undefined;
        },
        { timeoutMs: 20_000, what: "the etl job to complete" },
      );
      const row = (await identities(dir)).find((x) => x.hostname === "etl-1");
      assert.deepEqual(row?.queues, ["etl"]);

      const rev = await cli(["agent", "revoke", "worker:etl-1", "--data-dir", dir]);
      assert.equal(rev.code, 0, rev.stderr);
      assert.equal((await identities(dir)).find((x) => x.hostname === "etl-1")?.state, "revoked");
    } finally {
      await worker.close();
    }
  });
});
