/**
 * `jetjob cron list|add|delete`: schedules that enqueue a job on a cron expression.
 */
import type { Command } from "commander";
import { Option } from "commander";

import type { CronInfo } from "../client/api.js";
import type { EnqueueOptions } from "../client/types.js";
import { addClientFlags, clientFor, parseArgValues } from "./client-flags.js";
import type { ClientFlags, Runner } from "./client-flags.js";
import { printFields, printJson, printTable, shortTime } from "./output.js";

interface AddFlags extends ClientFlags {
  timezone?: string;
  overlap?: "allow" | "skip";
  queue?: string;
  args?: string;
}

export function printCron(c: CronInfo, json: boolean | undefined): void {
  if (json) return printJson(c);
  printFields([
    ["name", c.name],
    ["expression", c.expression],
    ["timezone", c.timezone],
    ["overlap", c.overlap_policy],
    ["enabled", c.enabled ? "yes" : "no"],
    ["job", c.job_template],
    ["created", c.created_at],
    ["next run", c.next_run_at],
    ["last run", c.last_run_at],
    ["last job", c.last_job_id],
  ]);
}

export function registerCronCommands(program: Command, run: Runner): void {
  const cron = program.command("cron").description("list, add and delete cron schedules");

  addClientFlags(cron.command("list").description("list cron schedules")).action((f: ClientFlags) =>
    run(async () => {
      const crons = await clientFor(f).cron.list();
      if (f.json) return printJson(crons);
      if (crons.length === 0) {
        process.stdout.write("no cron schedules (add one with `jetjob cron add`)\n");
        return;
      }
      printTable(
        ["NAME", "EXPRESSION", "TZ", "NEXT RUN", "LAST RUN"],
        crons.map((c) => [
          c.name,
          c.expression,
          c.timezone,
          shortTime(c.next_run_at),
          shortTime(c.last_run_at),
        ]),
      );
    }, f.json),
  );

  addClientFlags(
    cron
      .command("add")
      .description("register (or replace) a schedule that enqueues a job; ARGS are JSON values (or strings)")
      .argument("<name>", "schedule name: letters, digits, '_', '.', '-'")
      .argument("<expression>", 'cron expression, e.g. "0 3 * * *" (5 fields, 6 with seconds) or @daily')
      .argument("<type>", "job type, e.g. report.build")
      .argument("[args...]", "job arguments")
      .option("--timezone <tz>", "IANA time zone of the expression (default UTC)")
      .addOption(
        new Option("--overlap <policy>", "skip: no new run while the previous job is unfinished").choices([
          "allow",
          "skip",
        ]),
      )
      .option("-q, --queue <queue>", "queue of the jobs (default: default)")
      .option("--args <json>", "arguments as one JSON array instead of ARGS"),
  ).action((name: string, expression: string, type: string, values: string[], f: AddFlags) =>
    run(async () => {
      const options: EnqueueOptions = f.queue === undefined ? {} : { queue: f.queue };
      const info = await clientFor(f).cron.add({
        name,
        expression,
        ...(f.timezone === undefined ? {} : { timezone: f.timezone }),
        ...(f.overlap === undefined ? {} : { overlapPolicy: f.overlap }),
        job: { type, args: parseArgValues(values, f.args), options },
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
}
