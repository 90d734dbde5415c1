/**
 * The admin commands of the CLI (`queue`, `dlq`, `cron`), end to end against one real `jetjob start`:
 * each command's JSON output, its effect on the server, its exit codes, and its human output (table
 * headers and fields). `job list|retry|watch|add` are in cli-jobs.test.ts (one `jetjob start` per
 * file, so each file stays well inside the per-file time limit on a loaded machine).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import type { CronInfo, DeadLetterPage, QueueInfo, QueueStats } from "../../src/client/api.js";
import type { Job } from "../../src/client/types.js";
import { useJetjob } from "../harness/cli.js";
import { cliAdmin } from "../harness/cli-admin.js";

describe("jetjob queue | dlq | cron", () => {
  const s = useJetjob();
  const { run, json, add, fetchJob, deadLetter } = cliAdmin(s);

  it("queue list, stats, pause and resume", async () => {
    const job = await add("adminq");
    const queues = await json<QueueInfo[]>("queue", "list");
    assert.equal(queues.find((q) => q.name === "adminq")?.status, "active");
    const table = await run("queue", "list");
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^NAME\s+STATUS\s+WAITING\s+CONSUMERS\s+CREATED\n/);
    // One job waits and no worker takes the queue: flagged.
    assert.match(table.stdout, /^adminq\s+active\s+1\s+0 !\s+\d{4}-\d\d-\d\dT/m);

    assert.deepEqual(await json("queue", "pause", "adminq"), { name: "adminq", paused: true });
    const paused = await json<QueueStats>("queue", "stats", "adminq");
    assert.equal(paused.paused, true);
    assert.equal(paused.available, 1);
    assert.deepEqual(await fetchJob("adminq"), [], "a paused queue hands out nothing");
    const human = await run("queue", "stats", "adminq");
    assert.equal(human.code, 0, human.stderr);
    for (const re of [/status\s+paused/, /available\s+1\n/, /completed\s+0\n/, /rate limit\s+none/])
      assert.match(human.stdout, re);

    assert.deepEqual(await json("queue", "resume", "adminq"), { name: "adminq", paused: false });
    assert.equal((await json<QueueStats>("queue", "stats", "adminq")).paused, false);
    assert.deepEqual(
      (await fetchJob("adminq")).map((j) => j.id),
      [job.id],
      "a resumed queue hands out its jobs",
    );
    assert.match((await run("queue", "resume", "adminq")).stdout, /queue adminq is active/);

    assert.equal((await run("queue", "stats", "Not A Queue")).code, 2, "an invalid queue name exits 2");
  });

  it("dlq list, retry and delete", async () => {
    const a = await deadLetter("dlq-a");
    const b = await deadLetter("dlq-b");

    const all = await json<DeadLetterPage>("dlq", "list");
    assert.equal(all.total, 2);
    assert.deepEqual(all.jobs.map((j) => j.id).sort(), [a, b].sort());
    const onlyA = await json<DeadLetterPage>("dlq", "list", "--queue", "dlq-a");
    assert.deepEqual(
      onlyA.jobs.map((j) => [j.id, j.state]),
      [[a, "discarded"]],
    );
    assert.equal(onlyA.total, 1);
    const first = await json<DeadLetterPage>("dlq", "list", "--limit", "1");
    const second = await json<DeadLetterPage>("dlq", "list", "--limit", "1", "--offset", "1");
    assert.equal(first.jobs.length, 1);
    assert.deepEqual([...first.jobs, ...second.jobs].map((j) => j.id).sort(), [a, b].sort());

    const table = await run("dlq", "list", "--queue", "dlq-a");
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^ID\s+TYPE\s+QUEUE\s+ATTEMPT\s+LAST ERROR\n/);
    assert.match(table.stdout, new RegExp(`^${a}\\s+test\\.fails\\s+dlq-a\\s+1/1\\s+.*boom`, "m"));
    assert.match(table.stdout, /^1 of 1 dead letters$/m);
    assert.match(
      (await run("dlq", "list", "--limit", "1")).stdout,
      /1-1 of 2 dead letters\nmore: add --offset 1/,
    );

    const retried = await json<Job>("dlq", "retry", a);
    assert.equal(retried.id, a);
    assert.equal(retried.state, "available");
    assert.equal((await json<Job>("job", "get", a)).state, "available");
    assert.equal((await json<DeadLetterPage>("dlq", "list", "--queue", "dlq-a")).total, 0);

    assert.deepEqual(await json("dlq", "delete", b), { deleted: true, job_id: b });
    assert.equal((await json<DeadLetterPage>("dlq", "list", "--queue", "dlq-b")).total, 0);
    assert.equal((await json<Job>("job", "get", b)).state, "discarded", "the job itself stays discarded");

    const notDead = await run("dlq", "delete", a);
    assert.equal(notDead.code, 4, "deleting a job that is not a dead letter exits 4");
    assert.match(notDead.stderr, /not found/i);
    assert.equal((await run("dlq", "retry", b)).code, 4, "a deleted dead letter is gone");
    assert.equal((await run("dlq", "list", "--limit", "zero")).code, 2);
  });

  it("cron add, list and delete", async () => {
    const added = await json<CronInfo>("cron", "add", "nightly", "0 3 * * *", "report.build");
    assert.equal(added.name, "nightly");
    assert.equal(added.expression, "0 3 * * *");
    const listed = (await json<CronInfo[]>("cron", "list")).find((c) => c.name === "nightly");
    assert.ok(listed, "cron list contains nightly");
    assert.match(listed.next_run_at ?? "", /T03:00:00/);
    assert.deepEqual(listed.job_template, { type: "report.build", args: [] });

    const full = await json<CronInfo>(
      "cron",
      "add",
      "weekly.report",
      "0 4 * * 1",
      "report.build",
      "42",
      "summary",
      "--timezone",
      "Europe/Berlin",
      "--overlap",
      "skip",
      "-q",
      "reports",
    );
    assert.equal(full.timezone, "Europe/Berlin");
    assert.equal(full.overlap_policy, "skip");
    assert.deepEqual(full.job_template, {
      type: "report.build",
      args: [42, "summary"],
      options: { queue: "reports" },
    });
    const viaArgs = await json<CronInfo>(
      "cron",
      "add",
      "weekly.report",
      "0 4 * * 1",
      "report.build",
      "--args",
      '[{"a":1}]',
      "--timezone",
      "Europe/Berlin",
    );
    assert.deepEqual(viaArgs.job_template.args, [{ a: 1 }], "adding again replaces the schedule");
    assert.equal(viaArgs.overlap_policy, "allow", "the replacement does not inherit the old options");

    // A scheduled fleet job: the operation runs on the agents the target selects at each tick.
    const fleetCron = await json<CronInfo>(
      "cron",
      "add",
      "disk.check",
      "30 2 * * *",
      "system.disk.get",
      "--target",
      "group:db and not host:db-9",
      "--args",
      '{"path":"/"}',
      "--timeout",
      "30s",
    );
    assert.equal(fleetCron.target, "group:db and not host:db-9");
    assert.deepEqual(fleetCron.job_template, {
      op: "system.disk.get",
      target: "group:db and not host:db-9",
      args: { path: "/" },
      timeout_ms: 30_000,
    });
    const badTarget = await run(
      "cron",
      "add",
      "bad",
      "0 3 * * *",
      "system.disk.get",
      "--target",
      "web-* and",
    );
    assert.equal(badTarget.code, 2, "a malformed target is refused at registration");
    assert.match(badTarget.stderr, /target: Bad target at position 9/);
    assert.equal((await run("cron", "add", "bad", "0 3 * * *", "x.y", "--target", "all", "-q", "q")).code, 2);

    const table = await run("cron", "list");
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^NAME\s+EXPRESSION\s+TZ\s+TARGET\s+NEXT RUN\s+LAST RUN\s+LAST ERROR\n/);
    assert.match(table.stdout, /^nightly\s+0 3 \* \* \*\s+UTC\s+-\s+\S+T03:00:00Z\s+-\s+-$/m);
    assert.match(table.stdout, /^weekly\.report\s+0 4 \* \* 1\s+Europe\/Berlin\s+-\s/m);
    assert.match(
      table.stdout,
      /^disk\.check\s+30 2 \* \* \*\s+UTC\s+group:db and not host:db-9\s+\S+T02:30:00Z\s/m,
    );
    assert.match((await run("cron", "delete", "disk.check")).stdout, /disk\.check deleted/);

    assert.equal((await json<CronInfo>("cron", "delete", "nightly")).name, "nightly");
    assert.equal(
      (await json<CronInfo[]>("cron", "list")).some((c) => c.name === "nightly"),
      false,
    );
    assert.equal((await run("cron", "delete", "nightly")).code, 4, "deleting again exits 4");
    assert.match((await run("cron", "delete", "weekly.report")).stdout, /weekly\.report deleted/);

    assert.equal((await run("cron", "add", "bad", "not a cron", "x.y")).code, 2, "invalid expression");
    assert.equal((await run("cron", "add", "bad", "0 3 * * *", "x.y", "--timezone", "Mars/Base")).code, 2);
    assert.equal((await run("cron", "add", "bad", "0 3 * * *", "x.y", "--overlap", "never")).code, 2);
  });
});
