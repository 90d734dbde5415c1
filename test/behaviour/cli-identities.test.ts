/**
 * Agent enrollment through the CLI against `jetjob start` (docs/security.md): the local agent has
 * its own identity with no configuration; `jetjob agent --enroll` waits until `jetjob agent accept`,
 * keeps its credentials in a 0600 file, runs jobs, and `jetjob agent revoke` cuts it off.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";

import { agentUser } from "../../src/access/identities.js";
import { connectNats } from "../../src/nats/connect.js";
import { startNatsServer } from "../../src/natsd/index.js";
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
      // Cut off for good, the agent process says so and exits (code 1) instead of idling.
      assert.equal(await agent.exited, 1);
      assert.match(agent.stderr() + agent.stdout(), /NATS closed the agent's connection/);
    } finally {
      if (agent.child.exitCode === null) agent.child.kill("SIGTERM");
      await agent.exited;
    }
  });

  it("your own NATS: nats-auth init config, jetjob server answers the callout, an enrollment token joins", async () => {
    const base = mkdtempSync(join(tmpdir(), "jetjob-own-nats-"));
    const keys = join(base, "keys");
    const init = await cli(["nats-auth", "init", keys]);
    assert.equal(init.code, 0, init.stderr);
    assert.match(init.stdout, /auth_callout/);
    for (const f of ["nats-issuer.seed", "nats.password", "nats-system.password"]) {
      assert.equal(statSync(join(keys, f)).mode & 0o777, 0o600, f);
    }
    const ns = await startNatsServer({
      storeDir: join(base, "nats"),
      monitorPort: -1,
      extraConfig: init.stdout,
    });
    const login = [
      "--nats",
      ns.url,
      "--nats-user",
      "jetjob",
      "--nats-pass-file",
      join(keys, "nats.password"),
    ];
    const server = spawnCli([
      "server",
      ...login,
      "--port",
      "0",
      "--nats-auth-issuer-seed",
      join(keys, "nats-issuer.seed"),
      "--nats-system-pass-file",
      join(keys, "nats-system.password"),
    ]);
    let agent: ReturnType<typeof spawnCli> | undefined;
    try {
      await waitFor(
        () =>
          (server.stdout() + server.stderr()).includes("jetjob API server listening") ||
          server.child.exitCode !== null,
        {
          timeoutMs: 30_000,
          what: "jetjob server",
        },
      );
      assert.equal(server.child.exitCode, null, server.stderr() + server.stdout());
      const tok = await cli(["agent", "enroll-token", ...login]);
      assert.equal(tok.code, 0, tok.stderr);
      agent = spawnCli([
        "agent",
        "--nats",
        ns.url,
        "--enroll",
        "--enroll-token",
        tok.stdout.trim(),
        "--hostname",
        "own-1",
        "--identity-file",
        join(base, "own-1.identity.json"),
      ]);
      const ids = await waitFor(
        async () => {
          const r = await cli(["agent", "identities", ...login, "--json"]);
          const row =
            r.code === 0 ? (JSON.parse(r.stdout) as Row[]).find((x) => x.hostname === "own-1") : undefined;
          return row?.state === "accepted" ? row : undefined;
        },
        { timeoutMs: 20_000, what: "own-1 accepted by its token" },
      );
      assert.equal(ids.state, "accepted");
    } finally {
      if (agent) {
        agent.child.kill("SIGTERM");
        await agent.exited;
      }
      server.child.kill("SIGTERM");
      await server.exited;
      await ns.stop();
      rmSync(base, { recursive: true, force: true });
    }
  });
});
