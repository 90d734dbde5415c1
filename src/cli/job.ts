/**
 * `jetjob job add|get|cancel|retry|list|watch`: client commands against the API server.
 */
import type { Command } from "commander";
import { Option } from "commander";

import type { Client } from "../client/client.js";
import type { EnqueueOptions, Job } from "../client/types.js";
import type { FleetStatus } from "../fleet/types.js";
import { isNotFound, ValidationError } from "../core/errors.js";
import { isFleetId } from "../fleet/ids.js";
import { printFleetJob, registerFleetJobCommands, watchFleetJob } from "./fleet.js";
import { allJobStates } from "../core/states.js";
import type { JobState } from "../core/states.js";
import { addClientFlags, clientFor, durationFlag, intFlag, parseArgValues } from "./client-flags.js";
import type { ClientFlags, Runner } from "./client-flags.js";
import { color, printFields, printJson, printTable, shortTime, stateColor } from "./output.js";
import { watchJob } from "./watch.js";

export interface AddFlags extends ClientFlags {
  queue?: string;
  priority?: string;
  args?: string;
  delay?: string;
  at?: string;
  maxAttempts?: string;
  timeout?: string;
  timeoutMs?: string;
  id?: string;
  exclusiveKey?: string;
}

export function enqueueOptionsFrom(f: AddFlags): EnqueueOptions {
  const o: EnqueueOptions = {};
  if (f.queue !== undefined) o.queue = f.queue;
  if (f.priority !== undefined) o.priority = intFlag("--priority", f.priority);
  if (f.id !== undefined) o.id = f.id;
  if (f.delay !== undefined) o.delayMs = durationFlag("--delay", f.delay);
  if (f.exclusiveKey !== undefined) o.exclusiveKey = f.exclusiveKey;
  if (f.at !== undefined) {
    const t = Date.parse(f.at);
    if (Number.isNaN(t))
      throw new ValidationError(`--at ${f.at}: use an RFC 3339 time like 2030-01-01T09:00:00Z`);
    o.runAt = new Date(t);
  }
  if (f.maxAttempts !== undefined) o.retry = { maxAttempts: intFlag("--max-attempts", f.maxAttempts) };
  if (f.timeout !== undefined) o.timeoutMs = durationFlag("--timeout", f.timeout);
  else if (f.timeoutMs !== undefined) o.timeoutMs = intFlag("--timeout-ms", f.timeoutMs);
  return o;
}

export function printJob(job: Job, json: boolean | undefined): void {
  if (json) return printJson(job);
  printFields([
    ["id", job.id],
    ["type", job.type],
    ["state", stateColor(job.state)],
    ["queue", job.queue],
    ["priority", job.priority],
    ["attempt", `${job.attempt}/${job.max_attempts}`],
    ["args", job.args],
    ["created", job.created_by ? `${job.created_at} by ${job.created_by}` : job.created_at],
    ["scheduled", job.scheduled_at],
    ["started", job.started_at],
    ["completed", job.completed_at],
    ["cancelled", job.cancelled_at],
    ["result", job.result],
    ["error", job.error ? `${job.error.code}: ${job.error.message}` : undefined],
    ["worker", job.worker_id],
    ["progress", progressText(job)],
    ["exclusive key", job.exclusive_key],
  ]);
}

/** `42% rows 420/1000 (12:00:01)`: the current attempt's progress, when it reported any. */
export function progressText(job: Job): string | undefined {
  if (job.progress_updated_at === undefined) return undefined;
  const pct = typeof job.progress === "number" ? `${Math.round(job.progress * 1000) / 10}%` : "";
  const parts = [pct, job.progress_message ?? "", job.progress_data ? JSON.stringify(job.progress_data) : ""];
  return `${parts.filter((p) => p !== "").join(" ")} (${job.progress_updated_at})`;
}

interface ListFlags extends ClientFlags {
  queue?: string;
  state?: JobState;
  limit?: string;
  cursor?: string;
  status?: string;
  host?: string;
  op?: string;
}

/** `jetjob job list` without `--queue`: targeted jobs, newest first, with filters and a cursor. */
async function listFleetJobs(client: Client, f: ListFlags): Promise<void> {
  const page = await client.fleet.list({
    ...(f.status === undefined ? {} : { status: f.status as FleetStatus }),
    ...(f.host === undefined ? {} : { host: f.host }),
    ...(f.op === undefined ? {} : { op: f.op }),
    ...(f.limit === undefined ? {} : { limit: intFlag("--limit", f.limit, 1) }),
    ...(f.cursor === undefined ? {} : { cursor: f.cursor }),
  });
  if (f.json) return printJson(page);
  if (page.jobs.length === 0)
    process.stdout.write("no targeted jobs (queue jobs: jetjob job list --queue NAME)\n");
  else
    printTable(
      ["ID", "OP", "TARGET", "STATUS", "HOSTS", "CREATED"],
      page.jobs.map((j) => [
        j.id,
        j.op,
        j.target,
        stateColor(j.status),
        `${j.counts.completed}/${j.counts.total}`,
        shortTime(j.created_at),
      ]),
    );
  if (page.next_cursor) {
    const keep = [
      f.status ? ` --status ${f.status}` : "",
      f.host ? ` --host ${f.host}` : "",
      f.op ? ` --op ${f.op}` : "",
      f.limit ? ` --limit ${f.limit}` : "",
    ].join("");
    process.stdout.write(color.dim(`more: jetjob job list${keep} --cursor ${page.next_cursor}`) + "\n");
  }
}

export function registerJobCommands(program: Command, run: Runner): void {
  const job = program.command("job").description("enqueue, run on agents, inspect, list and watch jobs");
  registerFleetJobCommands(job, run);

  addClientFlags(
    job
      .command("add")
      .description("enqueue a job; ARGS are JSON values (or strings)")
      .argument("<type>", "job type, e.g. email.send")
      .argument("[args...]", "job arguments")
      .option("-q, --queue <queue>", "queue (default: default)")
      .option("-p, --priority <n>", "priority -100..100 (default 0)")
      .option("--args <json>", "arguments as one JSON array instead of ARGS")
      .option("--delay <duration>", "run after a delay: ms, 30s, 5m or an ISO duration")
      .option("--at <time>", "run at an RFC 3339 time")
      .option("--max-attempts <n>", "attempts before the job is discarded (default 3)")
      .option("--timeout <duration>", "execution timeout of one attempt: ms, 10s, 5m (as in job run)")
      .addOption(
        new Option("--timeout-ms <ms>", "execution timeout in ms (old spelling of --timeout)").hideHelp(),
      )
      .option("--id <uuidv7>", "your own job id (idempotent enqueue)")
      .option("--exclusive-key <key>", "run at most one job with this key at a time, in order"),
  ).action((type: string, values: string[], f: AddFlags) =>
    run(async () => {
      const client = clientFor(f);
      printJob(await client.enqueue(type, parseArgValues(values, f.args), enqueueOptionsFrom(f)), f.json);
    }, f.json),
  );

  addClientFlags(
    job
      .command("get")
      .description("show a job (a targeted job with per-host results)")
      .argument("<id>", "job id"),
  ).action((id: string, f: ClientFlags) =>
    run(async () => {
      const client = clientFor(f);
      if (isFleetId(id)) {
        const fleetJob = await client.fleet.get(id).catch((err: unknown) => {
          if (isNotFound(err)) return undefined;
          throw err;
        });
        if (fleetJob) return f.json ? printJson(fleetJob) : printFleetJob(fleetJob, { timeline: true });
      }
      printJob(await client.get(id), f.json);
    }, f.json),
  );

  addClientFlags(
    job
      .command("cancel")
      .description("cancel a job that has not finished (a queue job, or a targeted job on every host)")
      .argument("<id>", "job id"),
  ).action((id: string, f: ClientFlags) =>
    run(async () => {
      const client = clientFor(f);
      if (isFleetId(id)) {
        const fleetJob = await client.fleet.cancel(id);
        return f.json ? printJson(fleetJob) : printFleetJob(fleetJob);
      }
      printJob(await client.cancel(id), f.json);
    }, f.json),
  );

  addClientFlags(
    job
      .command("retry")
      .description(
        "run a job again: a discarded or cancelled queue job with fresh attempts; a finished targeted job as a new job on the hosts that did not complete",
      )
      .argument("<id>", "job id")
      .option(
        "--include-uncertain",
        "targeted modify jobs: also hosts where it may have run (acknowledged or timed out)",
      )
      .option("-t, --target <expr>", "targeted jobs: run on these hosts instead"),
  ).action((id: string, f: ClientFlags & { includeUncertain?: boolean; target?: string }) =>
    run(async () => {
      const client = clientFor(f);
      if (isFleetId(id)) {
        const r = await client.fleet.retry(id, {
          ...(f.includeUncertain ? { includeUncertain: true } : {}),
          ...(f.target === undefined ? {} : { target: f.target }),
        });
        if (f.json) return printJson(r);
        printFleetJob(r.job);
        for (const s of r.skipped)
          process.stdout.write(color.dim(`not retried on ${s.host} (${s.state}): ${s.reason}`) + "\n");
        return;
      }
      printJob(await client.retry(id), f.json);
    }, f.json),
  );

  addClientFlags(
    job
      .command("delete")
      .description("delete a finished targeted job with its results and timeline (queue jobs: cancel them)")
      .argument("<id>", "job id"),
  ).action((id: string, f: ClientFlags) =>
    run(async () => {
      if (!isFleetId(id)) {
        throw new ValidationError(
          `${id} is not a targeted job; queue jobs are cancelled (jetjob job cancel) and removed after their retention`,
        );
      }
      await clientFor(f).fleet.delete(id);
      if (f.json) printJson({ deleted: id });
      else process.stdout.write(`deleted ${id}\n`);
    }, f.json),
  );

  addClientFlags(
    job
      .command("list")
      .description("list a queue's jobs (--queue), or targeted jobs (without --queue), newest first")
      .option("-q, --queue <queue>", "queue to list")
      .option("--status <status>", "targeted jobs: only with this status (running, completed, failed, ...)")
      .option("--host <host>", "targeted jobs: only those that ran on this host")
      .option("--op <op>", "targeted jobs: only of this operation")
      .addOption(new Option("--state <state>", "only jobs in this state").choices(allJobStates))
      .option("--limit <n>", "jobs per page, 1-500 (default: the server's)")
      .option("--cursor <cursor>", "continue after a previous page (its next_cursor)"),
  ).action((f: ListFlags) =>
    run(async () => {
      if (f.queue === undefined) return listFleetJobs(clientFor(f), f);
      const page = await clientFor(f).list({
        queue: f.queue,
        ...(f.state === undefined ? {} : { state: f.state }),
        ...(f.limit === undefined ? {} : { limit: intFlag("--limit", f.limit, 1) }),
        ...(f.cursor === undefined ? {} : { cursor: f.cursor }),
      });
      if (f.json) return printJson(page);
      if (page.jobs.length === 0) {
        process.stdout.write(`no ${f.state ?? ""}${f.state ? " " : ""}jobs in queue ${f.queue}\n`);
      } else {
        printTable(
          ["ID", "TYPE", "STATE", "ATTEMPT", "CREATED"],
          page.jobs.map((j) => [
            j.id,
            j.type,
            stateColor(j.state),
            `${j.attempt}/${j.max_attempts}`,
            shortTime(j.created_at),
          ]),
        );
      }
      if (page.next_cursor) {
        const state = f.state ? ` --state ${f.state}` : "";
        const limit = f.limit ? ` --limit ${f.limit}` : "";
        process.stdout.write(
          color.dim(`more: jetjob job list --queue ${f.queue}${state}${limit} --cursor ${page.next_cursor}`) +
            "\n",
        );
      }
    }, f.json),
  );

  addClientFlags(
    job
      .command("watch")
      .description(
        "print a job's live events until it finishes (a targeted job's timeline); exit 0 if it completed, 1 if it failed or was cancelled, 3 if hosts were unreachable",
      )
      .argument("<id>", "job id"),
  ).action((id: string, f: ClientFlags) =>
    run(async () => {
      const client = clientFor(f);
      if (isFleetId(id) && (await client.fleet.get(id).catch(() => undefined))) {
        process.exitCode = await watchFleetJob(client, id, f.json === true);
        return;
      }
      await watchJob(client, id, f.json === true);
    }, f.json),
  );
}
