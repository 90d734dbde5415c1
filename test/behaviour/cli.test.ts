/**
 * `jetjob start` and the client commands, run as a user runs them (child processes), including the
 * promise that Ctrl-C/SIGTERM — and even SIGKILL of jetjob — leaves no nats-server behind.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";

import { alive, cli, cliArgs, natsPid, root, startJetjob } from "../harness/cli.js";
import { startTestNats, waitFor } from "../harness/nats.js";

describe("jetjob start + CLI", () => {
  const dirs: string[] = [];
  const newDir = () => {
    const d = mkdtempSync(join(tmpdir(), "jetjob-cli-"));
    dirs.push(d);
    return d;
  };
  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it("starts everything, serves the CLI, and stops every child on SIGTERM", async () => {
    const s = await startJetjob(newDir());
    const endpoints = JSON.parse(readFileSync(join(s.dataDir, "endpoints.json"), "utf8")) as {
      api: string;
      nats: string;
    };
    assert.match(endpoints.api, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.match(endpoints.nats, /^nats:\/\/127\.0\.0\.1:\d+$/);
    const token = readFileSync(join(s.dataDir, "admin.token"), "utf8").trim();
    assert.ok(s.output().includes(token), "the token is printed");
    assert.ok(s.output().includes(endpoints.api) && s.output().includes(endpoints.nats));

    const unauth = await fetch(`${endpoints.api}/ojs/v1/queues`);
    assert.equal(unauth.status, 401);

    const add = await cli([
      "job",
      "add",
      "email.send",
      '"ada@example.com"',
      "42",
      "--queue",
      "mail",
      "--data-dir",
      s.dataDir,
      "--json",
    ]);
    assert.equal(add.code, 0, add.stderr);
    const job = JSON.parse(add.stdout) as { id: string; state: string; args: unknown[]; queue: string };
    assert.equal(job.state, "available");
    assert.deepEqual(job.args, ["ada@example.com", 42]);
    assert.equal(job.queue, "mail");

    const get = await cli(["job", "get", job.id, "--data-dir", s.dataDir, "--json"]);
    assert.equal(get.code, 0, get.stderr);
    assert.equal((JSON.parse(get.stdout) as { id: string }).id, job.id);

    const human = await cli(["job", "get", job.id, "--data-dir", s.dataDir]);
    assert.match(human.stdout, /state\s+available/);

    const missing = await cli([
      "job",
      "get",
      "019539a4-0000-7000-8000-000000000000",
      "--data-dir",
      s.dataDir,
    ]);
    assert.equal(missing.code, 4, "not found exits 4");
    assert.match(missing.stderr, /not found/i);

    const badArgs = await cli(["job", "add", "Bad Type", "--data-dir", s.dataDir]);
    assert.equal(badArgs.code, 2, "validation errors exit 2");

    const viaEnv = await cli(["job", "get", job.id, "--json"], {
      JETJOB_API_URL: endpoints.api,
      JETJOB_API_TOKEN: token,
      JETJOB_DATA_DIR: "/nonexistent",
    });
    assert.equal(viaEnv.code, 0, viaEnv.stderr);

    const pid = natsPid(s.dataDir);
    assert.ok(alive(pid));
    s.child.kill("SIGTERM");
    const code = await new Promise<number | null>((r) => s.child.once("exit", r));
    assert.equal(code, 0);
    await waitFor(() => !alive(pid), { what: "nats-server to exit" });
    assert.equal(existsSync(join(s.dataDir, "endpoints.json")), false, "endpoints.json removed on stop");
  });

  it("keeps the token across restarts and leaves no nats-server behind when jetjob is killed", async () => {
    const dir = newDir();
    const first = await startJetjob(dir);
    const token = readFileSync(join(dir, "admin.token"), "utf8").trim();
    const pid = natsPid(dir);
    first.child.kill("SIGKILL");
    await waitFor(() => !alive(pid), { timeoutMs: 10_000, what: "the orphan guard to stop nats-server" });

    const second = await startJetjob(dir);
    assert.equal(readFileSync(join(dir, "admin.token"), "utf8").trim(), token);
    second.child.kill("SIGINT");
    assert.equal(await new Promise<number | null>((r) => second.child.once("exit", r)), 0);
  });

  it("refuses a second jetjob start on the same data dir, and a NATS port in use, with what to do", async () => {
    const dir = newDir();
    const first = await startJetjob(dir);
    try {
      const endpoints = JSON.parse(readFileSync(join(dir, "endpoints.json"), "utf8")) as {
        api: string;
        nats: string;
      };
      const second = await cli(["start", "--port", "0", "--nats-port", "0", "--data-dir", dir]);
      assert.equal(second.code, 5);
      assert.match(second.stderr, /already running on .* \(pid \d+, API http/);
      // The first one is untouched: its endpoints are still there and it answers.
      assert.deepEqual(JSON.parse(readFileSync(join(dir, "endpoints.json"), "utf8")), endpoints);
      assert.equal((await fetch(`${endpoints.api}/health`)).status, 200);

      const port = new URL(endpoints.nats).port;
      const busy = await cli(["start", "--port", "0", "--nats-port", port, "--data-dir", newDir()]);
      assert.equal(busy.code, 5);
      assert.match(busy.stderr, new RegExp(`NATS port 127\\.0\\.0\\.1:${port} is in use`));
      assert.match(busy.stderr, /--nats-port/);
    } finally {
      first.child.kill("SIGINT");
      await new Promise((r) => first.child.once("exit", r));
    }
  });

  it("runs `jetjob server` against an existing NATS", async () => {
    const nats = await startTestNats();
    let log = "";
    const child = spawn(process.execPath, [...cliArgs, "server", "--nats", nats.url, "--port", "0"], {
      cwd: root,
      env: { ...process.env, JETJOB_API_TOKEN: "server-test-token", JETJOB_LOG_LEVEL: "info" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stderr.on("data", (c: Buffer) => (log += c.toString()));
    try {
      const url = await waitFor(() => /"url":"(http:\/\/[^"]+)"/.exec(log)?.[1], {
        timeoutMs: 30_000,
        what: "the server to listen",
      });
      assert.equal((await fetch(`${url}/health`)).status, 200);
      const authed = await fetch(`${url}/ojs/v1/queues`, {
        headers: { Authorization: "Bearer server-test-token" },
      });
      assert.equal(authed.status, 200);
      assert.equal(log.includes("server-test-token"), false, "the token never appears in logs");
      child.kill("SIGTERM");
      assert.equal(await new Promise<number | null>((r) => child.once("exit", r)), 0);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
      await nats.stop();
    }
  });

  it("says how to proceed when no server is running", async () => {
    const r = await cli(["job", "get", "019539a4-0000-7000-8000-000000000000", "--data-dir", newDir()]);
    assert.equal(r.code, 3);
    assert.match(r.stderr, /jetjob start/);
  });

  it("has --help on every command, and every client command has the client flags", async () => {
    const commands = [
      ["--help"],
      ["start", "--help"],
      ["server", "--help"],
      ["job", "--help"],
      ["job", "add", "--help"],
      ["job", "get", "--help"],
      ["job", "cancel", "--help"],
      ["job", "retry", "--help"],
      ["job", "list", "--help"],
      ["job", "watch", "--help"],
      ["queue", "--help"],
      ["queue", "list", "--help"],
      ["queue", "stats", "--help"],
      ["queue", "pause", "--help"],
      ["queue", "resume", "--help"],
      ["dlq", "--help"],
      ["dlq", "list", "--help"],
      ["dlq", "retry", "--help"],
      ["dlq", "delete", "--help"],
      ["cron", "--help"],
      ["cron", "list", "--help"],
      ["cron", "add", "--help"],
      ["cron", "delete", "--help"],
    ];
    const results = await Promise.all(commands.map((args) => cli(args)));
    results.forEach((r, i) => {
      const args = commands[i]!;
      assert.equal(r.code, 0, args.join(" "));
      assert.match(r.stdout, /Usage: jetjob/);
      if (args.length === 3) {
        for (const flag of ["--json", "--api", "--token", "--data-dir"]) {
          assert.ok(r.stdout.includes(flag), `${args.join(" ")} has ${flag}`);
        }
      }
    });
  });
});
