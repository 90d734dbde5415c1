/**
 * The job commands of the CLI (`job list|retry|watch`, `job add --exclusive-key` with keys, queue
 * config and locks), end to end against one real `jetjob start`: JSON output, effect on the server,
 * exit codes and human output.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import type { JobEvent, JobPage } from "../../src/client/api.js";
import type { Job } from "../../src/client/types.js";
import type { CliChild } from "../harness/cli.js";
import { spawnCli, useJetjob } from "../harness/cli.js";
import { cliAdmin } from "../harness/cli-admin.js";
import { waitFor } from "../harness/nats.js";

describe("jetjob job list | retry | watch | add", () => {
  const s = useJetjob();
  const { run, json, add, api, fetchJob } = cliAdmin(s);

  it("job list pages newest first with a cursor", async () => {
    const a = await add("listq", "list.job", "1");
    const b = await add("listq", "list.job", "2");
    const c = await add("listq", "list.job", "3");
    const page1 = await json<JobPage>("job", "list", "--queue", "listq", "--limit", "2");
    assert.deepEqual(
      page1.jobs.map((j) => j.id),
      [c.id, b.id],
    );
    assert.ok(page1.next_cursor, "a next_cursor when more jobs follow");
    const page2 = await json<JobPage>(
      "job",
      "list",
      "--queue",
      "listq",
      "--limit",
      "2",
      "--cursor",
      page1.next_cursor,
    );
    assert.deepEqual(
      page2.jobs.map((j) => j.id),
      [a.id],
    );
    assert.equal(page2.next_cursor, undefined);

    const table = await run("job", "list", "-q", "listq", "--limit", "2");
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^ID\s+TYPE\s+STATE\s+ATTEMPT\s+CREATED\n/);
    assert.match(table.stdout, new RegExp(`^${c.id}\\s+list\\.job\\s+available\\s+0/3\\s+\\d{4}-`, "m"));
    assert.ok(
      table.stdout.includes(`more: jetjob job list --queue listq --limit 2 --cursor ${page1.next_cursor}`),
      table.stdout,
    );

    assert.deepEqual((await json<JobPage>("job", "list", "-q", "listq", "--state", "completed")).jobs, []);
    assert.equal((await run("job", "list", "-q", "listq", "--state", "done")).code, 2, "unknown state");
    // Without --queue: targeted (fleet) jobs, not some queue's.
    const fleetList = await run("job", "list");
    assert.equal(fleetList.code, 0, fleetList.stderr);
    assert.doesNotMatch(fleetList.stdout, /list\.job/);
  });

  it("job retry runs a cancelled job again", async () => {
    const job = await add("retryq");
    assert.equal((await json<Job>("job", "cancel", job.id)).state, "cancelled");
    const retried = await json<Job>("job", "retry", job.id);
    assert.equal(retried.id, job.id);
    assert.equal(retried.state, "available");
    assert.equal(retried.attempt, 0);
    assert.equal((await json<Job>("job", "get", job.id)).state, "available");

    const conflict = await run("job", "retry", job.id);
    assert.equal(conflict.code, 5, "retrying an available job is a conflict");
    await json("job", "cancel", job.id);
    const human = await run("job", "retry", job.id);
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, /state\s+available/);
  });

  describe("job watch", () => {
    const watch = (id: string, ...extra: string[]) =>
      spawnCli(["job", "watch", id, "--data-dir", s.jetjob.dataDir, ...extra]);
    /** Waits for the first line (the state snapshot: the server is subscribed from then on). */
    const started = (w: CliChild) =>
      waitFor(() => w.stdout().includes("\n") || w.child.exitCode !== null, {
        timeoutMs: 30_000,
        what: "the watch to print the job's state",
      });
    const events = (w: CliChild) =>
      w
        .stdout()
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as JobEvent);

    it("prints live events until the job completes, and exits 0", async () => {
      const job = await add("watchq");
      const ndjson = watch(job.id, "--json");
      const human = watch(job.id);
      await Promise.all([started(ndjson), started(human)]);
      const [claimed] = await fetchJob("watchq", "w-watch");
      assert.equal(claimed?.id, job.id);
      await api().call("POST", "/ojs/v1/workers/ack", { job_id: job.id, result: { ok: true } });

      assert.equal(await ndjson.exited, 0, ndjson.stderr());
      const evs = events(ndjson);
      assert.equal(evs[0]?.type, "job.state");
      assert.equal(evs[0]?.data.state, "available");
      assert.equal(evs.at(-1)?.type, "job.completed");
      assert.ok(evs.some((e) => e.type === "job.started" && e.data.worker_id === "w-watch"));
      assert.ok(evs.every((e) => e.data.job_id === job.id));

      assert.equal(await human.exited, 0, human.stderr());
      const lines = human.stdout().trim().split("\n");
      assert.match(lines[0]!, /^\d{4}-\d\d-\d\dT\S+Z\s+job\.state\s+state available\s+attempt 0$/);
      assert.match(lines.at(-1)!, /^\S+Z\s+job\.completed\s+attempt 1\s+worker w-watch\s+\d+ms$/);

      const after = await run("job", "watch", job.id, "--json");
      assert.equal(after.code, 0, "watching a completed job prints its state and exits 0");
      assert.equal((JSON.parse(after.stdout) as JobEvent).data.state, "completed");
    });

    it("exits 1 when the job is cancelled", async () => {
      const job = await add("watchq-cancel");
      const w = watch(job.id, "--json");
      await started(w);
      await json("job", "cancel", job.id);
      assert.equal(await w.exited, 1, w.stderr());
      const evs = events(w);
      assert.equal(evs[0]?.type, "job.state");
      assert.equal(evs.at(-1)?.type, "job.cancelled");

      assert.equal((await run("job", "watch", job.id)).code, 1, "an already cancelled job exits 1 too");
    });

    it("stops cleanly on Ctrl-C, and exits 4 for an unknown job", async () => {
      const job = await add("watchq-sigint");
      const w = watch(job.id);
      await started(w);
      w.child.kill("SIGINT");
      assert.equal(await w.exited, 130);
      assert.match(w.stderr(), /^stopped watching job /);
      assert.doesNotMatch(w.stderr(), /error/i);

      const missing = await run("job", "watch", "019539a4-0000-7000-8000-000000000000");
      assert.equal(missing.code, 4);
    });
  });

  it("job add --exclusive-key, keys, queue config and lock acquire|renew|release|list", async () => {
    const first = await json<Job>("job", "add", "dns.update", "--queue", "keyq", "--exclusive-key", "host:a");
    const second = await json<Job>(
      "job",
      "add",
      "dns.update",
      "--queue",
      "keyq",
      "--exclusive-key",
      "host:a",
    );
    assert.equal(first.exclusive_key, "host:a");
    assert.equal(second.state, "pending");
    assert.deepEqual(
      (await fetchJob("keyq", "cli-keys")).map((j) => j.id),
      [first.id],
    );
    const keys = await json<
      Array<{ key: string; holder: { job_id: string; worker_id?: string }; waiting: number }>
    >("keys", "--queue", "keyq");
    assert.deepEqual(
      keys.map((k) => [k.key, k.holder.job_id, k.holder.worker_id, k.waiting]),
      [["host:a", first.id, "cli-keys", 1]],
    );
    const table = await run("keys");
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^KEY\s+HOLDER JOB\s+STATE\s+WORKER\s+SINCE\s+WAITING\n/);
    assert.match(table.stdout, new RegExp(`^host:a\\s+${first.id}\\s+active\\s+cli-keys\\s+\\S+\\s+1$`, "m"));

    const cfg = await json<{ exclusive_key_template?: string }>(
      "queue",
      "config",
      "keyq2",
      "--exclusive-key-template",
      "host:{args.0}",
    );
    assert.equal(cfg.exclusive_key_template, "host:{args.0}");
    assert.equal(
      (await json<Job>("job", "add", "t", "web-9", "--queue", "keyq2")).exclusive_key,
      "host:web-9",
    );
    const bad = await run("queue", "config", "keyq2", "--exclusive-key-template", "{nope}");
    assert.equal(bad.code, 2, "a bad template is a usage error");
    assert.equal(
      (
        await json<{ exclusive_key_template?: string }>(
          "queue",
          "config",
          "keyq2",
          "--no-exclusive-key-template",
        )
      ).exclusive_key_template,
      undefined,
    );

    const lock = await json<{ name: string; token: string; fencing_token: number }>(
      "lock",
      "acquire",
      "deploy",
      "--ttl",
      "30s",
      "--owner",
      "ci",
    );
    const again = await run("lock", "acquire", "deploy");
    assert.equal(again.code, 5, "a held lock is a conflict");
    const listed = await json<Array<{ name: string; owner: string }>>("lock", "list");
    assert.deepEqual(
      listed.map((l) => [l.name, l.owner]),
      [["deploy", "ci"]],
    );
    assert.equal((await run("lock", "renew", "deploy", "--lock-token", lock.token, "--ttl", "1m")).code, 0);
    assert.equal((await run("lock", "release", "deploy", "--lock-token", "wrong")).code, 5);
    assert.deepEqual(await json("lock", "release", "deploy", "--lock-token", lock.token), {
      released: true,
      name: "deploy",
    });
    assert.deepEqual(await json("lock", "list"), []);
    await api().call("DELETE", `/ojs/v1/jobs/${first.id}`);
    await api().call("DELETE", `/ojs/v1/jobs/${second.id}`);
  });
});
