/**
 * CLI rough edges of issue 19: output piped into `head` (a closed pipe) ends quietly; pausing an
 * unknown queue says so (exit 4) unless `--create`; a bad `--args` says it is not JSON; a validation
 * error prints its details; `jetjob agent --data-dir` finds the NATS URL and login there; `queue delete`
 * removes a queue without unfinished jobs and refuses one with waiting jobs.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";

import type { Client } from "../../src/client/client.js";
import { createClient } from "../../src/client/client.js";
import type { RunningApiServer } from "../../src/server/run.js";
import { runTestServer } from "../harness/app.js";
import { cli, cliArgs, root, spawnCli } from "../harness/cli.js";
import { useNats, waitFor } from "../harness/nats.js";

const h = useNats();
const token = "rough-edges-admin-token-123456";

/** Runs `jetjob ARGS` with its stdout a pipe whose reader has gone (as `… | head -2` after two lines). */
function cliIntoClosedPipe(args: string[]): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [...cliArgs, ...args], {
    cwd: root,
    env: { ...process.env, NO_COLOR: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout.destroy(); // the reader closes before the first line: every write meets EPIPE
  let stderr = "";
  child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve) => child.once("close", (code) => resolve({ code, stderr })));
}

describe("CLI rough edges", () => {
  let srv: RunningApiServer;
  let client: Client;
  const q = `rough-${randomUUID().slice(0, 8)}`;
  const api = () => ["--api", srv.url, "--token", token];

  before(async () => {
    srv = await runTestServer(h.nats.url, [{ name: "admin", token, scope: "admin" }]);
    client = createClient({ url: srv.url, token });
    for (let i = 0; i < 20; i++) await client.enqueue("noop", [i], { queue: q });
  });
  after(async () => {
    await client.close();
    await srv.close();
  });

  it("ends quietly when stdout is a closed pipe (job list | head, storage | head)", async () => {
    for (const args of [["job", "list", "-q", q], ["storage"]]) {
      const r = await cliIntoClosedPipe([...args, ...api()]);
      assert.doesNotMatch(r.stderr, /EPIPE|Unhandled/, `${args.join(" ")}: ${r.stderr}`);
      assert.equal(r.code, 0, `${args.join(" ")}: exit ${r.code} ${r.stderr}`);
    }
  });

  it("refuses to pause or resume an unknown queue (exit 4) unless --create", async () => {
    // One letter off ('x' is never in the hex suffix; swapping two letters was no typo when they were equal).
    const typo = `${q.slice(0, -1)}x`;
    const r = await cli(["queue", "pause", typo, ...api()]);
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, new RegExp(`Queue '${typo}' not found`));
    assert.match(r.stderr, new RegExp(`Did you mean '${q}'\\?`));
    assert.match(r.stderr, /--create/);
    assert.ok(!(await client.queues.list()).some((x) => x.name === typo), "no phantom queue");
    assert.equal((await cli(["queue", "resume", typo, ...api()])).code, 4);

    const created = await cli(["queue", "pause", typo, "--create", ...api()]);
    assert.equal(created.code, 0, created.stderr);
    assert.ok((await client.queues.list()).some((x) => x.name === typo && x.paused));
    const known = await cli(["queue", "resume", typo, ...api()]);
    assert.equal(known.code, 0, known.stderr);
  });

  it("queue delete removes a queue without unfinished jobs and refuses one with waiting jobs", async () => {
    const phantom = `${q}-phantom`;
    assert.equal((await cli(["queue", "pause", phantom, "--create", ...api()])).code, 0);
    assert.ok((await client.queues.list()).some((x) => x.name === phantom));

    const gone = await cli(["queue", "delete", phantom, ...api()]);
    assert.equal(gone.code, 0, gone.stderr);
    assert.match(gone.stdout, new RegExp(`queue ${phantom} deleted`));
    assert.ok(!(await client.queues.list()).some((x) => x.name === phantom), "deleted queue still listed");
    const again = await cli(["queue", "delete", phantom, ...api()]);
    assert.equal(again.code, 4, again.stderr);

    // The queue with waiting jobs (20 from before(), more from later tests) stays, and the refusal says why.
    const busy = await cli(["queue", "delete", q, ...api()]);
    assert.notEqual(busy.code, 0);
    assert.match(busy.stderr, /still has jobs that have not finished \(\d+ available\)/, busy.stderr);
    assert.match(busy.stderr, /^details: .*"available":\d+/m, busy.stderr);
    assert.ok((await client.queues.list()).some((x) => x.name === q));

    // A name used again after the delete is a fresh queue whose jobs are handed out (not paused).
    const job = await client.enqueue("noop", [1], { queue: phantom });
    const listed = await client.queues.list();
    assert.ok(
      listed.some((x) => x.name === phantom && !x.paused),
      JSON.stringify(listed),
    );
    const fetched = await fetch(`${srv.url}/ojs/v1/workers/fetch`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ queues: [phantom], count: 1 }),
    });
    const body = (await fetched.json()) as { jobs: Array<{ id: string }> };
    assert.deepEqual(
      body.jobs.map((j) => j.id),
      [job.id],
    );
  });

  it("job add takes --timeout as a duration like job run (and the old --timeout-ms)", async () => {
    for (const [flag, value, ms] of [
      ["--timeout", "10s", 10_000],
      ["--timeout", "1500", 1500],
      ["--timeout-ms", "2500", 2500],
    ] as const) {
      const r = await cli(["job", "add", "noop", "-q", q, flag, value, "--json", ...api()]);
      assert.equal(r.code, 0, r.stderr);
      const job = JSON.parse(r.stdout) as { timeout_ms?: number };
      assert.equal(job.timeout_ms, ms, `${flag} ${value}: ${r.stdout}`);
    }
    const bad = await cli(["job", "add", "noop", "-q", q, "--timeout", "soon", ...api()]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--timeout soon: use milliseconds, 30s/);
  });

  it("says a bad --args is not JSON, for each command that takes --args", async () => {
    for (const args of [
      ["job", "add", "noop", "-q", q],
      ["job", "run", "system.uptime.get", "--target", "all"],
      ["cron", "add", "c1", "* * * * *", "noop"],
      ["cron", "add", "c2", "* * * * *", "system.uptime.get", "--target", "all"],
    ]) {
      const r = await cli([...args, "--args", "{bad", ...api()]);
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, /--args must be JSON \(/, args.join(" "));
      assert.doesNotMatch(r.stderr, /must be a JSON array/, args.join(" "));
    }
    const notArray = await cli(["job", "add", "noop", "-q", q, "--args", '{"a":1}', ...api()]);
    assert.equal(notArray.code, 2);
    assert.match(notArray.stderr, /--args must be a JSON array \(got an object\)/);
  });

  it("prints the details a hint points to", async () => {
    // The server refuses the job; its hint says to see `details`, which name the field.
    const r = await cli(["job", "add", "noop", "-q", q, "--priority", "100000", ...api()]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /hint: .*details/i, r.stderr);
    assert.match(r.stderr, /^details: .*priority/m, r.stderr);
  });

  it("jetjob agent --data-dir reads the NATS URL from the data dir's endpoints.json", async () => {
    const dir = mkdtempSync(join(tmpdir(), "jetjob-agent-dir-"));
    writeFileSync(join(dir, "endpoints.json"), JSON.stringify({ api: srv.url, nats: h.nats.url }));
    const host = `dd-${randomUUID().slice(0, 8)}`;
    const agent = spawnCli(["agent", "--data-dir", dir, "--hostname", host], { JETJOB_NATS_URL: "" });
    try {
      await waitFor(async () => (await client.workers.list()).some((w) => w.hostname === host), {
        timeoutMs: 20_000,
        what: `agent ${host} registered (${agent.stderr()})`,
      });
    } finally {
      agent.child.kill("SIGTERM");
      await agent.exited;
      rmSync(dir, { recursive: true, force: true });
    }
    const missing = await cli(["agent", "--data-dir", join(tmpdir(), `none-${randomUUID()}`)], {
      JETJOB_NATS_URL: "",
    });
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /has no endpoints\.json/);
  });
});
