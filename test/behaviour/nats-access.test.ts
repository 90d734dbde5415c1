/**
 * NATS access of `jetjob start`: loopback only by default, with a login even there (jetjob's own tools
 * find the password in the data dir); agents elsewhere log in with the password from a file; TLS when
 * given a certificate.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { networkInterfaces, tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";

import { natsAccess } from "../../src/cli/nats-access.js";
import { isJetjobError } from "../../src/core/errors.js";
import { connectNats } from "../../src/nats/connect.js";
import { localCredentials } from "../../src/nats/local-credentials.js";
import { startNatsServer } from "../../src/natsd/index.js";
import { cli, spawnCli, startJetjob } from "../harness/cli.js";
import { waitFor } from "../harness/nats.js";

const dirs: string[] = [];
const newDir = (p: string) => {
  const d = mkdtempSync(join(tmpdir(), p));
  dirs.push(d);
  return d;
};
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const externalIp = Object.values(networkInterfaces())
  .flat()
  .find((i) => i && i.family === "IPv4" && !i.internal)?.address;

describe("NATS access", () => {
  it("requires a login even on loopback; the store is private; jetjob's own tools find the password", async () => {
    const dir = newDir("jetjob-loop-");
    rmSync(dir, { recursive: true }); // a data dir jetjob start makes itself
    const s = await startJetjob(dir);
    try {
      const conf = readFileSync(join(dir, "nats", ".run", "nats-server.conf"), "utf8");
      assert.match(conf, /^listen: "127\.0\.0\.1:/m);
      assert.match(conf, /authorization/);
      assert.equal(statSync(dir).mode & 0o777, 0o700, "data dir: owner only");
      assert.equal(statSync(join(dir, "nats")).mode & 0o777, 0o700, "store: owner only");
      assert.equal(statSync(join(dir, "nats.password")).mode & 0o777, 0o600);
      const url = (JSON.parse(readFileSync(join(dir, "endpoints.json"), "utf8")) as { nats: string }).nats;
      if (externalIp) {
        await assert.rejects(
          connectNats({ servers: `nats://${externalIp}:${new URL(url).port}`, timeoutMs: 1000 }),
        );
      }
      // Anyone on the machine who cannot read the password file is refused.
      await assert.rejects(connectNats({ servers: url, timeoutMs: 5000 }), (err: unknown) => {
        assert.ok(isJetjobError(err));
        assert.match(err.hint ?? "", /JETJOB_DATA_DIR/);
        return true;
      });
      // jetjob's own tools find it through the data dir: an agent needs neither --nats nor a password.
      const creds = localCredentials(url, { JETJOB_DATA_DIR: dir });
      assert.ok(creds);
      assert.equal(creds.user, "jetjob");
      const nc = await connectNats({ servers: url, user: creds.user, pass: creds.pass });
      await nc.close();
      const agent = spawnCli(["agent", "--hostname", "local-2"], { JETJOB_DATA_DIR: dir });
      try {
        await waitFor(
          async () => {
            const r = await cli(["worker", "list", "--data-dir", dir, "--json"]);
            return (
              r.code === 0 &&
              (JSON.parse(r.stdout) as Array<{ hostname: string }>).some((w) => w.hostname === "local-2")
            );
          },
          { timeoutMs: 20_000, what: "local-2 registered" },
        );
      } finally {
        agent.child.kill("SIGTERM");
        await agent.exited;
      }
    } finally {
      s.child.kill("SIGTERM");
      await new Promise((r) => s.child.once("exit", r));
    }
  });

  it("--no-nats-auth lets anyone on loopback in, and is refused on other addresses", async () => {
    const dir = newDir("jetjob-noauth-");
    const s = await startJetjob(dir, ["--no-nats-auth", "--no-agent"]);
    try {
      const conf = readFileSync(join(dir, "nats", ".run", "nats-server.conf"), "utf8");
      assert.doesNotMatch(conf, /authorization/);
    } finally {
      s.child.kill("SIGTERM");
      await new Promise((r) => s.child.once("exit", r));
    }
    const refused = await cli([
      "start",
      "--no-nats-auth",
      "--nats-host",
      "0.0.0.0",
      "--data-dir",
      newDir("jetjob-noauth2-"),
    ]);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /only allowed on loopback/);
  });

  it("exposed NATS requires the generated password; an agent joins with it", async () => {
    const dir = newDir("jetjob-exposed-");
    const s = await startJetjob(dir, ["--nats-host", "0.0.0.0"]);
    try {
      const pwFile = join(dir, "nats.password");
      assert.equal(statSync(pwFile).mode & 0o777, 0o600);
      const password = readFileSync(pwFile, "utf8").trim();
      assert.ok(
        s.output().includes("nats.password") && !s.output().includes(password),
        "says where, never prints it",
      );
      const url = (JSON.parse(readFileSync(join(dir, "endpoints.json"), "utf8")) as { nats: string }).nats;
      await assert.rejects(connectNats({ servers: url, timeoutMs: 5000 }), (err: unknown) =>
        isJetjobError(err),
      );
      await assert.rejects(connectNats({ servers: url, user: "jetjob", pass: "wrong", timeoutMs: 2000 }));
      const nc = await connectNats({ servers: url, user: "jetjob", pass: password });
      await nc.close();

      // The password from a file, never on the command line (other users can read /proc/<pid>/cmdline).
      const agent = spawnCli(["agent", "--nats", url, "--nats-pass-file", pwFile, "--hostname", "remote-1"]);
      try {
        await waitFor(
          async () => {
            const r = await cli(["worker", "list", "--data-dir", dir, "--json"]);
            return (
              r.code === 0 &&
              (JSON.parse(r.stdout) as Array<{ hostname: string }>).some((w) => w.hostname === "remote-1")
            );
          },
          { timeoutMs: 20_000, what: "remote-1 registered" },
        );
        const run = await cli([
          "job",
          "run",
          "system.hostname.get",
          "--target",
          "remote-1",
          "--data-dir",
          dir,
        ]);
        assert.equal(run.code, 0, run.stderr);
        assert.match(run.stdout, /^remote-1\s+completed/m);
      } finally {
        agent.child.kill("SIGTERM");
        await agent.exited;
      }
    } finally {
      s.child.kill("SIGTERM");
      await new Promise((r) => s.child.once("exit", r));
    }
  });

  it("serves NATS over TLS when given a certificate; clients must use TLS", async () => {
    const dir = newDir("jetjob-tls-");
    const cert = join(dir, "cert.pem");
    const key = join(dir, "key.pem");
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=localhost",
        "-addext",
        "subjectAltName=DNS:localhost,IP:127.0.0.1",
        "-keyout",
        key,
        "-out",
        cert,
      ],
      { stdio: "ignore" },
    );
    const access = natsAccess({ dataDir: dir, tlsCertFile: cert, tlsKeyFile: key });
    assert.equal(access.tls, true);
    const server = await startNatsServer({
      storeDir: join(dir, "nats"),
      monitorPort: -1,
      extraConfig: access.serverConfig,
    });
    try {
      const nc = await connectNats({ servers: server.url, ...access.client });
      assert.ok(nc.info?.tls_required);
      await nc.close();
      await assert.rejects(
        connectNats({ servers: server.url, timeoutMs: 2000 }),
        "a client without the CA is refused",
      );
    } finally {
      await server.stop();
    }
  });
});
