/**
 * The admin commands of the CLI (`queue`, `dlq`, `cron`, and `job list|retry|watch`), end to end
 * against one real `jetjob start`: each command's JSON output, its effect on the server, its exit
 * codes, and its human output (table headers and fields).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import type {
  CronInfo,
  DeadLetterPage,
  JobEvent,
  JobPage,
  QueueInfo,
  QueueStats,
} from "../../src/client/api.js";
import type { Job } from "../../src/client/types.js";
import { cli, httpApi, spawnCli, useJetjob } from "../harness/cli.js";
import type { CliChild } from "../harness/cli.js";
import { waitFor } from "../harness/nats.js";

describe("jetjob queue | dlq | cron | job list/retry/watch", () => {
  const s = useJetjob();
  const run = (...args: string[]) => cli([...args, "--data-dir", s.jetjob.dataDir]);
  /** Runs with --json, expects exit 0, returns the parsed output. */
  const json = async <T>(...args: string[]): Promise<T> => {
    const r = await run(...args, "--json");
    assert.equal(r.code, 0, `jetjob ${args.join(" ")}: ${r.stderr}${r.stdout}`);
    return JSON.parse(r.stdout) as T;
  };
  const add = (queue: string, type = "test.job", ...args: string[]) =>
    json<Job>("job", "add", type, ...args, "--queue", queue);
  const api = () => httpApi(s.jetjob.dataDir);
  /** Claims the next job of `queue` as an HTTP worker would. */
  const fetchJob = async (queue: string, workerId = "cli-test") =>
    (
      await api().call<{ jobs: Job[] }>("POST", "/ojs/v1/workers/fetch", {
        queues: [queue],
        worker_id: workerId,
      })
    ).jobs;
  /** A job that failed its only attempt with on_exhaustion dead_letter (no CLI flag for that). */
  const deadLetter = async (queue: string): Promise<string> => {
    const { job } = await api().call<{ job: Job }>("POST", "/ojs/v1/jobs", {
      type: "test.fails",
      args: [],
      options: { queue, retry: { max_attempts: 1, on_exhaustion: "dead_letter" } },
    });
    const [claimed] = await fetchJob(queue);
    assert.equal(claimed?.id, job.id);
    await api().call("POST", "/ojs/v1/workers/nack", { job_id: job.id, error: { message: "boom" } });
    return job.id;
  };

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
