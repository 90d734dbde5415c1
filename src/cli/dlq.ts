/**
 * `jetjob dlq list|retry|delete`: the dead-letter queue (jobs discarded with on_exhaustion
 * dead_letter).
 */
import type { Command } from "commander";

import type { Job } from "../client/types.js";
import { addClientFlags, clientFor, intFlag } from "./client-flags.js";
import type { ClientFlags, Runner } from "./client-flags.js";
import { printJob } from "./job.js";
import { cell, color, printJson, printTable, truncate } from "./output.js";

interface ListFlags extends ClientFlags {
  queue?: string;
  limit?: string;
  offset?: string;
}

function lastError(j: Job): string {
  const e = j.error ?? j.errors?.at(-1);
  if (!e) return "-";
  return truncate(cell(e.message ? `${e.code}: ${e.message}` : e.code), 60);
}

export function registerDlqCommands(program: Command, run: Runner): void {
  const dlq = program.command("dlq").description("list, retry and delete dead letters");

  addClientFlags(
    dlq
      .command("list")
      .description("list dead letters, newest first")
      .option("-q, --queue <queue>", "only this queue")
      .option("--limit <n>", "at most this many, 1-1000 (default 100)")
      .option("--offset <n>", "skip this many (default 0)"),
  ).action((f: ListFlags) =>
    run(async () => {
      const offset = f.offset === undefined ? 0 : intFlag("--offset", f.offset, 0);
      const page = await clientFor(f).deadLetters.list({
        ...(f.queue === undefined ? {} : { queue: f.queue }),
        ...(f.limit === undefined ? {} : { limit: intFlag("--limit", f.limit, 1) }),
        ...(f.offset === undefined ? {} : { offset }),
      });
      if (f.json) return printJson(page);
      if (page.jobs.length > 0) {
        printTable(
          ["ID", "TYPE", "QUEUE", "ATTEMPT", "LAST ERROR"],
          page.jobs.map((j) => [j.id, j.type, j.queue, `${j.attempt}/${j.max_attempts}`, lastError(j)]),
        );
      }
      const shown = page.jobs.length;
      if (page.total === 0) {
        process.stdout.write(`no dead letters${f.queue ? ` in queue ${f.queue}` : ""}\n`);
        return;
      }
      const range =
        shown === 0 || (offset === 0 && shown === page.total)
          ? `${shown}`
          : `${offset + 1}-${offset + shown}`;
      process.stdout.write(color.dim(`${range} of ${page.total} dead letters`) + "\n");
      if (offset + shown < page.total) {
        process.stdout.write(color.dim(`more: add --offset ${offset + shown}`) + "\n");
      }
    }, f.json),
  );

  addClientFlags(
    dlq
      .command("retry")
      .description("retry a dead letter: back to available with fresh attempts")
      .argument("<id>", "job id"),
  ).action((id: string, f: ClientFlags) =>
    run(async () => printJob(await clientFor(f).deadLetters.retry(id), f.json), f.json),
  );

  addClientFlags(
    dlq
      .command("delete")
      .description("remove a job from the dead-letter queue (the job stays discarded)")
      .argument("<id>", "job id"),
  ).action((id: string, f: ClientFlags) =>
    run(async () => {
      const r = await clientFor(f).deadLetters.delete(id);
      if (f.json) return printJson(r);
      process.stdout.write(`dead letter ${r.job_id} deleted\n`);
    }, f.json),
  );
}
