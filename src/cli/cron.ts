/**
 * `jetjob cron list|add|delete|pause|resume|trigger`: schedules that enqueue a job on a cron expression, or (with
 * `--target`) run a fleet job on the agents the target selects.
 */
import type { Command } from "commander";
import { Option } from "commander";

import type { CronInfo } from "../client/api.js";
import type { FleetJobDefinition, JobDefinition } from "../client/client.js";
import type { EnqueueOptions } from "../client/types.js";
import { ValidationError } from "../core/errors.js";
import { addClientFlags, clientFor, durationFlag, parseArgValues, parseJsonFlag } from "./client-flags.js";
import type { ClientFlags, Runner } from "./client-flags.js";
import { printFields, printJson, printTable, shortTime } from "./output.js";

interface AddFlags extends ClientFlags {
  timezone?: string;
  overlap?: "allow" | "skip";
  queue?: string;
  args?: string;
  target?: string;
  timeout?: string;
  onlyReady?: boolean;
}

/** The job a schedule runs: a fleet job with `--target`, a queue job otherwise. */
function jobOf(type: string, values: string[], f: AddFlags): JobDefinition | FleetJobDefinition {
  if (f.target === undefined) {
    if (f.timeout !== undefined || f.onlyReady) {
      throw new ValidationError("--timeout and --only-ready are for fleet jobs: add --target EXPR");
    }
    const options: EnqueueOptions = f.queue === undefined ? {} : { queue: f.queue };
    return { type, args: parseArgValues(values, f.args), options };
  }
  if (f.queue !== undefined)
    throw new ValidationError("--queue is for queue jobs; a fleet job has a --target");
  let args: unknown;
  if (f.args !== undefined) {
    args = parseJsonFlag("--args", f.args, '{"host":"example.com"}');
  } else if (values.length > 0) {
    args = parseArgValues(values, undefined);
  }
  return {
    op: type,
    target: f.target,
    ...(args === undefined ? {} : { args }),
    ...(f.timeout === undefined ? {} : { timeoutMs: durationFlag("--timeout", f.timeout) }),
    ...(f.onlyReady ? { onlyReady: true } : {}),
  };
}

export function printCron(c: CronInfo, json: boolean | undefined): void {
  if (json) return printJson(c);
  printFields([
    ["name", c.name],
    ["expression", c.expression],
    ["timezone", c.timezone],
    ["overlap", c.overlap_policy],
    ["enabled", c.enabled ? "yes" : "no"],
    ["target", c.target],
    ["job", c.job_template],
    ["created", c.created_at],
    ["next run", c.next_run_at],
    ["last run", c.last_run_at],
    ["last job", c.last_job_id],
    ["last error", c.last_error ? `${c.last_error.code}: ${c.last_error.message}` : undefined],
  ]);
}

export function registerCronCommands(program: Command, run: Runner): void {
  const cron = program
    .command("cron")
    .description("list, add, delete, pause, resume and trigger cron schedules");

  addClientFlags(cron.command("list").description("list cron schedules")).action((f: ClientFlags) =>
    run(async () => {
      const crons = await clientFor(f).cron.list();
      if (f.json) return printJson(crons);
      if (crons.length === 0) {
        process.stdout.write("no cron schedules (add one with `jetjob cron add`)\n");
        return;
      }
      printTable(
        ["NAME", "EXPRESSION", "TZ", "TARGET", "NEXT RUN", "LAST RUN", "LAST ERROR"],
        crons.map((c) => [
          c.name,
          c.expression,
          c.timezone,
          c.target ?? "-",
          shortTime(c.next_run_at),
          shortTime(c.last_run_at),
          c.last_error?.code ?? "-",
        ]),
      );
    }, f.json),
  );

  addClientFlags(
    cron
      .command("add")
      .description(
        "register (or replace) a schedule that enqueues a job, or with --target runs a fleet job on agents; ARGS are JSON values (or strings)",
      )
      .argument("<name>", "schedule name: letters, digits, '_', '.', '-'")
      .argument("<expression>", 'cron expression, e.g. "0 3 * * *" (5 fields, 6 with seconds) or @daily')
      .argument("<type>", "job type, e.g. report.build (with --target: the operation, e.g. system.disk.get)")
      .argument("[args...]", "job arguments")
      .option("--timezone <tz>", "IANA time zone of the expression (default UTC)")
      .addOption(
        new Option("--overlap <policy>", "skip: no new run while the previous job is unfinished").choices([
          "allow",
          "skip",
        ]),
      )
      .option("-q, --queue <queue>", "queue of the jobs (default: default)")
      .option("--args <json>", "arguments as one JSON array instead of ARGS (fleet jobs: any JSON)")
      .option(
        "-t, --target <expr>",
        "run a fleet job on the agents this target selects at each tick (any, all, group:web, web-*, ...)",
      )
      .option(
        "--timeout <duration>",
        "fleet jobs: each job's deadline: ms, 10s, 5m (default: the server's, 60s)",
      )
      .option("--only-ready", "fleet jobs: send only to live, ready agents; leave the rest out silently"),
  ).action((name: string, expression: string, type: string, values: string[], f: AddFlags) =>
    run(async () => {
      const info = await clientFor(f).cron.add({
        name,
        expression,
        ...(f.timezone === undefined ? {} : { timezone: f.timezone }),
        ...(f.overlap === undefined ? {} : { overlapPolicy: f.overlap }),
        job: jobOf(type, values, f),
      });
      printCron(info, f.json);
    }, f.json),
  );

  addClientFlags(
    cron.command("delete").description("delete a cron schedule").argument("<name>", "schedule name"),
  ).action((name: string, f: ClientFlags) =>
    run(async () => {
      const info = await clientFor(f).cron.delete(name);
      if (f.json) return printJson(info);
      process.stdout.write(`cron schedule ${info.name} deleted\n`);
    }, f.json),
  );

  for (const op of ["pause", "resume"] as const) {
    addClientFlags(
      cron
        .command(op)
        .description(
          op === "pause"
            ? "pause a cron schedule: it does not fire until resumed"
            : "resume a paused cron schedule (ticks missed while paused are not fired)",
        )
        .argument("<name>", "schedule name"),
    ).action((name: string, f: ClientFlags) =>
      run(async () => {
        const c = clientFor(f).cron;
        const info = await (op === "pause" ? c.pause(name) : c.resume(name));
        if (f.json) return printJson(info);
        process.stdout.write(`cron schedule ${info.name} ${op === "pause" ? "paused" : "resumed"}\n`);
      }, f.json),
    );
  }

  addClientFlags(
    cron
      .command("trigger")
      .description("enqueue a schedule's job once, now (not a tick: next and last run stay)")
      .argument("<name>", "schedule name"),
  ).action((name: string, f: ClientFlags) =>
    run(async () => {
      const job = await clientFor(f).cron.trigger(name);
      if (f.json) return printJson(job);
      process.stdout.write(`cron schedule ${name}: job ${job.id} enqueued on ${job.queue}\n`);
    }, f.json),
  );
}
