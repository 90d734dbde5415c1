/**
 * The fleet from the command line, as a new user meets it: `jetjob start` runs a local agent, so
 * `jetjob job run system.hostname.get --target all` works right away; `jetjob agent` joins more
 * machines with labels; `worker list` shows them; exit codes follow the outcome.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";

import { createClient } from "../../src/client/index.js";
import { silentLogger } from "../../src/core/logger.js";
import { createWorker } from "../../src/worker/index.js";
import { cli, natsLogin, spawnCli, startJetjob } from "../harness/cli.js";
import type { Started } from "../harness/cli.js";
import { waitFor } from "../harness/nats.js";

describe("fleet CLI: jetjob start + agent + job run", () => {
  let dir: string;
  let s: Started;
  let nats: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "jetjob-cli-fleet-"));
    s = await startJetjob(dir);
    nats = (JSON.parse(readFileSync(join(dir, "endpoints.json"), "utf8")) as { nats: string }).nats;
  });
  after(async () => {
    s.child.kill("SIGTERM");
    await new Promise((r) => s.child.once("exit", r));
    rmSync(dir, { recursive: true, force: true });
  });

  it("drives a targeted job's whole life: dry run, detach, list, cancel, retry, delete; failures exit non-zero", async () => {
    const agent = spawnCli(["agent", "--nats", nats, "--hostname", "exec-box", "--enable-command-exec"], {
      JETJOB_DATA_DIR: dir,
    });
    try {
      await waitFor(
        async () => (await cli(["target", "resolve", "exec-box", "--data-dir", dir])).code === 0,
        {
          timeoutMs: 20_000,
          what: "exec-box online",
        },
      );
      // Preview: what a target selects and what it leaves out (a named host nobody has seen).
      const preview = await cli([
        "target",
        "resolve",
        "L@exec-box,nobody-here",
        "--op",
        "command.exec",
        "--data-dir",
        dir,
      ]);
      assert.equal(preview.code, 0, preview.stderr);
      assert.match(preview.stdout, /^exec-box\s+selected/m);
      assert.match(preview.stdout, /^nobody-here\s+unreachable\s+unknown/m);
      const dry = await cli(["job", "run", "command.exec", "-t", "_all", "--dry-run", "--data-dir", dir]);
      assert.equal(dry.code, 0, dry.stderr);
      assert.match(dry.stdout, /exec-box\s+selected/);

      // A failing command fails the run (exit 1), with its exit code shown.
      const fail = await cli([
        "job",
        "run",
        "command.exec",
        "-t",
        "exec-box",
        "--args",
        '{"command":"sh","args":["-c","exit 3"]}',
        "--data-dir",
        dir,
      ]);
      assert.equal(fail.code, 1, fail.stdout + fail.stderr);
      assert.match(fail.stdout, /exec-box\s+failed.*exited with code 3/);

      // Detach, list, cancel, retry, delete.
      const detached = await cli([
        "job",
        "run",
        "command.exec",
        "-t",
        "exec-box",
        "--args",
        '{"command":"sleep","args":["30"]}',
        "--timeout",
        "60s",
        "--detach",
        "--data-dir",
        dir,
      ]);
      assert.equal(detached.code, 0, detached.stderr);
      const id = detached.stdout.trim();
      assert.match(id, /^[0-9a-f-]{36}$/);
      assert.match(detached.stderr, new RegExp(`jetjob job watch ${id}`));
      const listed = await cli(["job", "list", "--status", "running", "--data-dir", dir]);
      assert.equal(listed.code, 0, listed.stderr);
      assert.match(listed.stdout, new RegExp(`^${id}\\s+command\\.exec\\s+exec-box\\s+running`, "m"));
      const cancelled = await cli(["job", "cancel", id, "--data-dir", dir]);
      assert.equal(cancelled.code, 0, cancelled.stderr);
      assert.match(cancelled.stdout, /status\s+cancelled/);
      const retried = await cli(["job", "retry", id, "--include-uncertain", "--data-dir", dir, "--json"]);
      assert.equal(retried.code, 0, retried.stderr);
      const again = (
        JSON.parse(retried.stdout) as {
          job: { id: string; retry_of: string; created_at: string; created_by: string; op_kind: string };
        }
      ).job;
      assert.equal(again.retry_of, id);
      assert.match(again.created_at, /^\d{4}-\d\d-\d\dT/, "the job's view, with readable times");
      assert.equal(again.op_kind, "modify");
      assert.equal(typeof again.created_by, "string");
      await cli(["job", "cancel", again.id, "--data-dir", dir]);
      const deleted = await cli(["job", "delete", id, "--data-dir", dir]);
      assert.equal(deleted.code, 0, deleted.stderr);
      assert.equal((await cli(["job", "get", id, "--data-dir", dir])).code, 4, "deleted");

      // Output streams while the command runs: the first line shows before the command may end.
      const gate = join(dir, "gate");
      const script = `echo first; echo oops >&2; while [ ! -f ${gate} ]; do sleep 0.05; done; echo second`;
      const running = spawnCli([
        "job",
        "run",
        "command.exec",
        "-t",
        "exec-box",
        "--args",
        JSON.stringify({ command: "sh", args: ["-c", script] }),
        "--data-dir",
        dir,
      ]);
      await waitFor(
        () => /^exec-box \| first$/m.test(running.stdout()) && /^exec-box \| oops$/m.test(running.stdout()),
        {
          timeoutMs: 20_000,
          what: "the first output lines while the command runs",
        },
      );
      assert.doesNotMatch(running.stdout(), /second|completed/, "the command has not ended");
      assert.equal(running.child.exitCode, null);
      writeFileSync(gate, "");
      assert.equal(await running.exited, 0, running.stderr());
      assert.match(running.stdout(), /^exec-box \| second$/m);
      assert.match(running.stdout(), /^exec-box\s+completed/m);
      const runId = /job (\S+): command\.exec/.exec(running.stdout())![1]!;
      const watched = await cli(["job", "watch", runId, "--data-dir", dir]);
      assert.match(
        watched.stdout,
        /exec-box \| first\n.*exec-box \| oops\n/s,
        "job watch shows the stored lines",
      );
      const got = await cli(["job", "get", runId, "--data-dir", dir]);
      assert.equal(got.code, 0, got.stderr);
      assert.match(
        got.stdout,
        /^created\s+\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ by \S+$/m,
        "who and when, readable",
      );
      assert.match(got.stdout, /^timeline$/m);
      assert.match(got.stdout, /submitted\s+-/);
      assert.match(got.stdout, /exec-box \| first$/m);

      // --stdout: each host's raw stdout, nothing else on stdout.
      const raw = await cli([
        "job",
        "run",
        "command.exec",
        "-t",
        "exec-box",
        "--args",
        '{"command":"printf","args":["a\\nb\\n"]}',
        "--stdout",
        "--data-dir",
        dir,
      ]);
      assert.equal(raw.code, 0, raw.stderr);
      assert.equal(raw.stdout, "a\nb\n");
      assert.match(raw.stderr, /1\/1 completed/);
    } finally {
      agent.child.kill("SIGTERM");
      await agent.exited;
    }
  });

  it("runs an operation on the local agent right after start", async () => {
    assert.match(s.output(), /Agent\s+\S+/);
    const r = await cli(["job", "run", "system.hostname.get", "--target", "all", "--data-dir", dir]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^${hostname()}\\s+completed`, "m"));
    assert.match(r.stdout, /completed\s+1\/1 completed/);

    const json = await cli(["job", "run", "system.os.get", "--target", "any", "--data-dir", dir, "--json"]);
    assert.equal(json.code, 0, json.stderr);
    const job = JSON.parse(json.stdout) as {
      id: string;
      status: string;
      results: Array<{ host: string; result: { arch: string } }>;
    };
    assert.equal(job.status, "completed");
    assert.equal(job.results[0]!.host, hostname());
    assert.equal(job.results[0]!.result.arch, process.arch);

    const status = await cli(["job", "status", job.id, "--data-dir", dir]);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /status\s+completed/);
    const get = await cli(["job", "get", job.id, "--data-dir", dir, "--json"]);
    assert.equal((JSON.parse(get.stdout) as { op: string }).op, "system.os.get");
  });

  it("joins an agent with labels, lists it by label, targets it, and drops it on SIGTERM", async () => {
    const agent = spawnCli(
      ["agent", "--nats", nats, "--hostname", "lab-box-1", "--label", "group:lab.east", "--fact", "rack=r12"],
      { JETJOB_DATA_DIR: dir }, // the NATS password is found there
    );
    await waitFor(
      async () => {
        const r = await cli(["worker", "list", "--label", "group:lab", "--data-dir", dir, "--json"]);
        return (
          r.code === 0 &&
          (JSON.parse(r.stdout) as Array<{ hostname: string }>).some((w) => w.hostname === "lab-box-1")
        );
      },
      { timeoutMs: 20_000, what: "lab-box-1 in worker list" },
    );
    const table = await cli(["worker", "list", "--data-dir", dir]);
    assert.match(table.stdout, /lab-box-1\s+ready\s+0\/8\s+group:lab\.east/);

    const run = await cli([
      "job",
      "run",
      "system.uptime.get",
      "--target",
      "group:lab and G@rack=r12",
      "--data-dir",
      dir,
    ]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^lab-box-1\s+completed/m);
    assert.doesNotMatch(
      run.stdout,
      new RegExp(`^${hostname()}\\s`, "m"),
      "the local agent is not in group:lab",
    );

    const none = await cli([
      "job",
      "run",
      "system.uptime.get",
      "--target",
      "group:nowhere",
      "--data-dir",
      dir,
    ]);
    assert.equal(none.code, 2, "no matching agent is a usage error");
    assert.match(none.stderr, /matches no agent\. \(no_targets\)/);
    const bad = await cli([
      "job",
      "run",
      "system.uptime.get",
      "--target",
      "G@cpu.cores>>2",
      "--data-dir",
      dir,
    ]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /position \d+/);

    agent.child.kill("SIGTERM");
    assert.equal(await agent.exited, 0);
    const after = await cli(["worker", "list", "--data-dir", dir, "--json"]);
    assert.ok(
      !(JSON.parse(after.stdout) as Array<{ hostname: string }>).some((w) => w.hostname === "lab-box-1"),
    );
  });

  it("watches a targeted job's timeline to the end", async () => {
    const run = await cli([
      "job",
      "run",
      "system.hostname.get",
      "--target",
      "all",
      "--data-dir",
      dir,
      "--json",
    ]);
    const id = (JSON.parse(run.stdout) as { id: string }).id;
    const watch = await cli(["job", "watch", id, "--data-dir", dir]);
    assert.equal(watch.code, 0, watch.stderr);
    assert.match(watch.stdout, /submitted/);
    assert.match(watch.stdout, new RegExp(`completed\\s+${hostname()}`));
    assert.match(watch.stdout, /finished/);
  });

  it("retries every dead letter of a queue with --all", async () => {
    const token = readFileSync(join(dir, "admin.token"), "utf8").trim();
    const api = (JSON.parse(readFileSync(join(dir, "endpoints.json"), "utf8")) as { api: string }).api;
    const client = createClient({ url: api, token });
    const failOnce = new Set<string>();
    const worker = createWorker({
      nats,
      natsOptions: natsLogin(dir),
      queues: ["bulk-dlq"],
      logger: silentLogger,
      handleSignals: false,
      handlers: {
        flaky: (job) => {
          if (!failOnce.has(job.id)) {
            failOnce.add(job.id);
            throw new Error("first attempt fails");
          }
          return "ok";
        },
      },
    });
    try {
      const jobs = await client.enqueueMany(
        Array.from({ length: 5 }, (_, i) => ({
          type: "flaky",
          args: [i],
          options: { queue: "bulk-dlq", retry: { maxAttempts: 1, onExhaustion: "dead_letter" as const } },
        })),
      );
      await waitFor(async () => (await client.deadLetters.list({ queue: "bulk-dlq" })).total === 5, {
        what: "5 dead letters",
      });
      const missing = await cli(["dlq", "retry", "--data-dir", dir]);
      assert.equal(missing.code, 2, "neither an id nor --all");
      const r = await cli(["dlq", "retry", "--all", "--queue", "bulk-dlq", "--data-dir", dir]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /retried 5 dead letter\(s\)/);
      await waitFor(
        async () => {
          const all = await Promise.all(jobs.map((j) => client.get(j.id)));
          return all.every((j) => j.state === "completed");
        },
        { what: "retried jobs completed" },
      );
    } finally {
      await worker.close();
      await client.close();
    }
  });

  it("has --help on the fleet commands", async () => {
    for (const args of [
      ["job", "run"],
      ["job", "status"],
      ["worker", "list"],
      ["worker", "drain"],
      ["worker", "label"],
      ["agent"],
    ]) {
      const r = await cli([...args, "--help"]);
      assert.equal(r.code, 0, args.join(" "));
      assert.match(r.stdout, /Usage: jetjob/);
    }
  });
});
