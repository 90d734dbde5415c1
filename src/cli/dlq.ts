/**
 * `jetjob dlq list|retry|delete`: the dead-letter queue (jobs discarded with on_exhaustion
 * dead_letter).
 */
import type { Command } from "commander";

import type { Client } from "../client/client.js";
import type { Job } from "../client/types.js";
import { ValidationError } from "../core/errors.js";
import { addClientFlags, clientFor, intFlag } from "./client-flags.js";
import type { ClientFlags, Runner } from "./client-flags.js";
import { printJob } from "./job.js";
import { cell, color, createProgress, printJson, printTable, truncate } from "./output.js";

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

  for (const verb of ["retry", "delete"] as const) {
    addClientFlags(
      dlq
        .command(verb)
        .description(
          verb === "retry"
            ? "retry dead letters: back to available with fresh attempts (one id, or --all)"
            : "remove jobs from the dead-letter queue; they stay discarded (one id, or --all)",
        )
        .argument("[id]", "job id")
        .option("--all", "every dead letter (with --queue: of that queue), with a progress line")
        .option("-q, --queue <queue>", "with --all: only this queue"),
    ).action((id: string | undefined, f: BulkFlags) =>
      run(async () => {
        const client = clientFor(f);
        if (id !== undefined && !f.all) {
          if (verb === "retry") return printJob(await client.deadLetters.retry(id), f.json);
          const r = await client.deadLetters.delete(id);
          if (f.json) return printJson(r);
          process.stdout.write(`dead letter ${r.job_id} deleted\n`);
          return;
        }
        if (!f.all || id !== undefined) {
          throw new ValidationError(`give a job id, or --all for every dead letter`);
        }
        const r = await bulk(client, verb, f.queue);
        if (f.json) return printJson(r);
        process.stdout.write(
          `${verb === "retry" ? "retried" : "deleted"} ${r.done} dead letter(s)` +
            (r.failed.length ? color.red(`, ${r.failed.length} failed`) : "") +
            "\n",
        );
        for (const x of r.failed) process.stdout.write(`  ${x.id}: ${x.error}\n`);
        if (r.failed.length) process.exitCode = 1;
      }, f.json),
    );
  }
}

interface BulkFlags extends ClientFlags {
  all?: boolean;
  queue?: string;
}

/** Retries or deletes every dead letter (of a queue), page by page, with a progress line. */
async function bulk(client: Client, verb: "retry" | "delete", queue: string | undefined) {
  const q = queue === undefined ? {} : { queue };
  const first = await client.deadLetters.list({ ...q, limit: 1 });
  const progress = createProgress(verb === "retry" ? "retrying" : "deleting", first.total);
  const failed: Array<{ id: string; error: string }> = [];
  const skip = new Set<string>();
  let done = 0;
  try {
    for (;;) {
      const page = await client.deadLetters.list({ ...q, limit: 100, offset: skip.size });
      const todo = page.jobs.filter((j) => !skip.has(j.id));
      if (todo.length === 0) break;
      for (const j of todo) {
        try {
          if (verb === "retry") await client.deadLetters.retry(j.id);
          else await client.deadLetters.delete(j.id);
          done++;
          progress.tick(true);
        } catch (err) {
          skip.add(j.id); // left in the list; skipped on the next pages
          failed.push({ id: j.id, error: err instanceof Error ? err.message : String(err) });
          progress.tick(false);
        }
      }
    }
  } finally {
    progress.done();
  }
  return { done, failed };
}
