/**
 * Agent enrollment through the CLI against `jetjob start` (docs/security.md): the local agent has
 * its own identity with no configuration; `jetjob agent --enroll` waits until `jetjob agent accept`,
 * keeps its credentials in a 0600 file, runs jobs, and `jetjob agent revoke` cuts it off.
 */
import assert from "node:assert/strict";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";

import { agentUser } from "../../src/access/identities.js";
import { connectNats } from "../../src/nats/connect.js";
import { cli, spawnCli, useJetjob } from "../harness/cli.js";
import { waitFor } from "../harness/nats.js";

const j = useJetjob();

interface Row {
  hostname: string;
  state: string;
}
interface WorkerRow {
  hostname: string;
  online: boolean;
}

describe("agent enrollment (CLI)", () => {
  it("jetjob start: the local agent runs with its own identity, no configuration", async () => {
    const dir = j.jetjob.dataDir;
    const conf = readFileSync(join(dir, "nats", ".run", "nats-server.conf"), "utf8");
    assert.match(conf, /auth_callout/);
    for (const f of ["agent.secret", "nats-issuer.seed", "nats-system.password"]) {
      assert.equal(statSync(join(dir, f)).mode & 0o777, 0o600, f);
    }
    const ids = await cli(["agent", "identities", "--data-dir", dir, "--json"]);
    assert.equal(ids.code, 0, ids.stderr);
    const local = (JSON.parse(ids.stdout) as Row[])[0];
    assert.equal(local?.state, "accepted");
    const r = await cli(["job", "run", "system.hostname.get", "--target", "all", "--data-dir", dir]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
  });

  it("--enroll waits for accept, stores its credentials 0600, runs jobs; revoke cuts it off", async () => {
    const dir = j.jetjob.dataDir;
    const idFile = join(dir, "agent-enrolled-1.identity.json");
    const agent = spawnCli(["agent", "--enroll", "--hostname", "enrolled-1", "--data-dir", dir]);
    try {
      const pending = await waitFor(
        async () => {
          const r = await cli(["agent", "pending", "--data-dir", dir, "--json"]);
          if (r.code !== 0) return undefined;
          return (JSON.parse(r.stdout) as Row[]).find((x) => x.hostname === "enrolled-1");
        },
        { timeoutMs: 20_000, what: "enrolled-1 pending" },
      );
      assert.equal(pending.state, "pending");
      assert.equal(statSync(idFile).mode & 0o777, 0o600);
      const id = JSON.parse(readFileSync(idFile, "utf8")) as { user: string; secret: string };
      assert.equal(id.user, agentUser("enrolled-1"));
      // Not accepted: it cannot connect (nor run anything).
      const url = (JSON.parse(readFileSync(join(dir, "endpoints.json"), "utf8")) as { nats: string }).nats;
      await assert.rejects(connectNats({ servers: url, user: id.user, pass: id.secret, timeoutMs: 2000 }));
      const list = async () => {
        const r = await cli(["worker", "list", "--offline", "--data-dir", dir, "--json"]);
        return (JSON.parse(r.stdout) as WorkerRow[]).find((w) => w.hostname === "enrolled-1");
      };
      assert.equal(await list(), undefined);

      const acc = await cli(["agent", "accept", "enrolled-1", "--data-dir", dir]);
      assert.equal(acc.code, 0, acc.stderr);
      await waitFor(async () => (await list())?.online, { timeoutMs: 20_000, what: "enrolled-1 online" });
      const run = await cli([
        "job",
        "run",
        "system.hostname.get",
        "--target",
        "enrolled-1",
        "--data-dir",
        dir,
        "--json",
      ]);
      assert.equal(run.code, 0, run.stdout + run.stderr);

      const rev = await cli(["agent", "revoke", "enrolled-1", "--data-dir", dir]);
      assert.equal(rev.code, 0, rev.stderr);
      let seen: WorkerRow | undefined;
      await waitFor(async () => ((seen = await list()), seen?.online === false), {
        timeoutMs: 30_000,
        what: "enrolled-1 offline after revoke",
      }).catch((err: unknown) => {
        throw new Error(`${String(err)}; last row ${JSON.stringify(seen)}`);
      });
      await assert.rejects(connectNats({ servers: url, user: id.user, pass: id.secret, timeoutMs: 2000 }));
    } finally {
      agent.child.kill("SIGTERM");
      await agent.exited;
    }
  });
});
