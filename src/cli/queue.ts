/**
 * `jetjob queue list|stats|pause|resume|config|delete`: inspect, pause, configure and delete queues.
 */
import type { Command } from "commander";

import type { QueueStats } from "../client/api.js";
import type { QueueRetentionOptions } from "../client/types.js";
import { NotFoundError } from "../core/errors.js";
import { addClientFlags, clientFor, intFlag } from "./client-flags.js";
import { retentionText } from "./storage.js";
import { durationArg } from "./storage-flags.js";
import type { ClientFlags, Runner } from "./client-flags.js";
import { color, printFields, printJson, printTable, shortTime } from "./output.js";

function status(paused: boolean): string {
  return paused ? color.yellow("paused") : color.green("active");
}

export function printQueueStats(s: QueueStats): void {
  // Waiting and running counts are estimated for very long queues; finished counts are exact.
  const approx = (n: number) => (s.approximate ? `~${n}` : String(n));
  printFields([
    ["name", s.name],
    ["status", status(s.paused)],
    ["available", approx(s.available)],
    ["active", approx(s.active)],
    ["scheduled", approx(s.scheduled)],
    ["retrying", approx(s.retryable)],
    ["waiting for a key", approx(s.pending)],
    ["completed", String(s.completed)],
    ["discarded", String(s.discarded)],
    ["cancelled", String(s.cancelled)],
    ["retried", String(s.retried)],
    ["expired", String(s.expired)],
    ["paused", s.paused ? "yes" : "no"],
    ["rate limit", s.rate_limit_per_second === undefined ? "none" : `${s.rate_limit_per_second}/s`],
    ["keys held", s.exclusive?.keys_held],
  ]);
  if (s.approximate)
    process.stdout.write(color.dim("~ approximate: the queue is too long to count exactly") + "\n");
}

interface QueueConfigFlags extends ClientFlags {
  exclusiveKeyTemplate?: string | false;
  retainCompleted?: number;
  retainDiscarded?: number;
  retainDeadLetters?: number;
  keepCompleted?: string;
  keepDiscarded?: string;
  defaultRetention?: boolean;
  maxDepth?: string;
  warningThreshold?: string;
}

function retentionFlags(f: QueueConfigFlags): QueueRetentionOptions | undefined {
  const r: QueueRetentionOptions = {};
  if (f.retainCompleted !== undefined) r.completedMs = f.retainCompleted;
  if (f.retainDiscarded !== undefined) r.discardedMs = f.retainDiscarded;
  if (f.retainDeadLetters !== undefined) r.deadLetterMs = f.retainDeadLetters;
  if (f.keepCompleted !== undefined) r.completedCount = intFlag("--keep-completed", f.keepCompleted, 0);
  if (f.keepDiscarded !== undefined) r.discardedCount = intFlag("--keep-discarded", f.keepDiscarded, 0);
  return Object.keys(r).length > 0 ? r : undefined;
}

export function registerQueueCommands(program: Command, run: Runner): void {
  const queue = program
    .command("queue")
    .description("list, inspect, pause, resume, configure and delete queues");

  addClientFlags(
    queue
      .command("list")
      .description("list queues with their waiting jobs and consumers (! = jobs waiting, no worker online)"),
  ).action((f: ClientFlags) =>
    run(async () => {
      const client = clientFor(f);
      const queues = await client.queues.list();
      // Consumers come from the worker registry of the HTTP API; other transports list without them.
      const consumers = await client.workers.queues().catch(() => undefined);
      const byName = new Map((consumers ?? []).map((c) => [c.name, c]));
      if (f.json) {
        return printJson(
          queues.map((q) => {
            const c = byName.get(q.name);
            return c === undefined
              ? q
              : { ...q, available: c.available, consumers: c.consumers, no_consumers: c.no_consumers };
          }),
        );
      }
      if (queues.length === 0) {
        process.stdout.write("no queues yet (a queue appears with its first job)\n");
        return;
      }
      printTable(
        ["NAME", "STATUS", "WAITING", "CONSUMERS", "CREATED"],
        queues.map((q) => {
          const c = byName.get(q.name);
          return [
            q.name,
            status(q.paused),
            c === undefined ? "-" : String(c.available),
            c === undefined ? "-" : c.no_consumers ? color.red(`0 !`) : String(c.consumers),
            shortTime(q.created_at),
          ];
        }),
      );
      const orphaned = (consumers ?? []).filter((c) => c.no_consumers).map((c) => c.name);
      if (orphaned.length > 0) {
        process.stdout.write(
          color.yellow(
            `! jobs wait in ${orphaned.join(", ")} but no worker takes ${orphaned.length === 1 ? "it" : "them"}: ` +
              "start a worker on the queue (`jetjob worker list --kind queue` shows the running ones)",
          ) + "\n",
        );
      }
    }, f.json),
  );

  addClientFlags(
    queue
      .command("stats")
      .description("counts of a queue's jobs by state, whether it is paused, its rate limit")
      .argument("<name>", "queue name"),
  ).action((name: string, f: ClientFlags) =>
    run(async () => {
      const client = clientFor(f);
      const stats = await client.queues.stats(name);
      const c = (await client.workers.queues().catch(() => undefined))?.find((q) => q.name === name);
      if (f.json)
        return printJson(
          c === undefined ? stats : { ...stats, consumers: c.consumers, no_consumers: c.no_consumers },
        );
      printQueueStats(stats);
      if (c !== undefined) {
        printFields([
          ["consumers", c.no_consumers ? color.red("0 (jobs wait, no worker online)") : String(c.consumers)],
        ]);
      }
    }, f.json),
  );

  addClientFlags(
    queue
      .command("config")
      .description("show or change a queue's settings")
      .argument("<name>", "queue name")
      .option(
        "--exclusive-key-template <template>",
        "give each job an exclusive key made from it, e.g. 'host:{args.0.host}' (type, queue, args.N.field, meta.field)",
      )
      .option("--no-exclusive-key-template", "remove the queue's exclusive key template")
      .option("--retain-completed <duration>", "keep completed jobs this long (e.g. 1h, 7d)", durationArg)
      .option(
        "--retain-discarded <duration>",
        "keep discarded, cancelled and expired jobs this long",
        durationArg,
      )
      .option("--retain-dead-letters <duration>", "keep dead letters this long", durationArg)
      .option("--keep-completed <count>", "keep about this many completed jobs at most")
      .option("--keep-discarded <count>", "keep about this many discarded jobs at most (never dead letters)")
      .option("--default-retention", "drop the queue's retention settings (the server's defaults apply)")
      .option(
        "--max-depth <count>",
        "refuse enqueues past this many unfinished jobs (backpressure; 0 removes it)",
      )
      .option(
        "--warning-threshold <fraction>",
        "with --max-depth: depth/bound from which enqueues get pressure headers (default 0.8)",
      ),
  ).action((name: string, f: QueueConfigFlags) =>
    run(async () => {
      const c = clientFor(f);
      const change: Parameters<typeof c.queues.configure>[1] = {};
      if (f.exclusiveKeyTemplate !== undefined)
        change.exclusiveKeyTemplate = f.exclusiveKeyTemplate === false ? null : f.exclusiveKeyTemplate;
      const retention = retentionFlags(f);
      if (f.defaultRetention) change.retention = null;
      else if (retention) change.retention = retention;
      if (f.maxDepth !== undefined) change.maxDepth = Number(f.maxDepth);
      if (f.warningThreshold !== undefined) change.warningThreshold = Number(f.warningThreshold);
      const cfg = await c.queues.configure(name, change);
      if (f.json) return printJson(cfg);
      printFields([
        ["name", cfg.name],
        ["status", status(cfg.paused)],
        ["rate limit", cfg.rate_limit_per_second === undefined ? "none" : `${cfg.rate_limit_per_second}/s`],
        ["exclusive key template", cfg.exclusive_key_template ?? "none"],
        ["retention", cfg.retention === undefined ? "defaults" : retentionText(cfg.retention)],
        [
          "max depth",
          cfg.backpressure === undefined
            ? "unbounded"
            : `${cfg.backpressure.max_depth} (warn at ${cfg.backpressure.warning_threshold})`,
        ],
      ]);
    }, f.json),
  );

  for (const [verb, paused] of [
    ["pause", true],
    ["resume", false],
  ] as const) {
    addClientFlags(
      queue
        .command(verb)
        .description(
          paused
            ? "pause a queue: jobs are still accepted but not handed out until resumed"
            : "resume a paused queue",
        )
        .argument("<name>", "queue name")
        .option(
          "--create",
          `${verb} it even if it does not exist yet (it is created ${paused ? "paused" : "active"})`,
        ),
    ).action((name: string, f: ClientFlags & { create?: boolean }) =>
      run(async () => {
        const c = clientFor(f);
        // The server creates a queue it does not know: a typo would leave a phantom paused queue.
        if (!f.create) await mustExist(c, name);
        const r = paused ? await c.queues.pause(name) : await c.queues.resume(name);
        if (f.json) return printJson(r);
        process.stdout.write(`queue ${r.name} is ${status(r.paused)}\n`);
      }, f.json),
    );
  }

  addClientFlags(
    queue
      .command("delete")
      .description(
        "delete a queue that has no unfinished job (refused with the counts otherwise); its finished jobs stay readable until retention removes them",
      )
      .argument("<name>", "queue name"),
  ).action((name: string, f: ClientFlags) =>
    run(async () => {
      const r = await clientFor(f).queues.delete(name);
      if (f.json) return printJson(r);
      const kept = r.finished.completed + r.finished.discarded + r.finished.cancelled + r.finished.expired;
      process.stdout.write(
        `queue ${r.name} deleted` +
          (kept > 0
            ? ` (${kept} finished job${kept === 1 ? "" : "s"} kept until retention removes them)`
            : "") +
          "\n",
      );
    }, f.json),
  );
}

/** Refuses (not_found, exit 4) a queue name that the server does not list. */
async function mustExist(c: ReturnType<typeof clientFor>, name: string): Promise<void> {
  const queues = await c.queues.list();
  if (queues.some((q) => q.name === name)) return;
  const near = queues.map((q) => q.name).filter((n) => closeTo(n, name));
  throw new NotFoundError("queue", name, {
    hint:
      (near.length > 0 ? `Did you mean ${near.map((n) => `'${n}'`).join(" or ")}? ` : "") +
      "`jetjob queue list` lists the queues; add --create to use a new queue name anyway.",
  });
}

/** Same letters give or take one edit (a typo such as 'defualt' for 'default'). */
function closeTo(a: string, b: string): boolean {
  if (Math.abs(a.length - b.length) > 2) return false;
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [
    i,
    ...Array<number>(b.length).fill(0),
  ]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) {
      const swap =
        i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1] ? d[i - 2]![j - 2]! + 1 : Infinity;
      d[i]![j] = Math.min(
        d[i - 1]![j]! + 1,
        d[i]![j - 1]! + 1,
        d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1),
        swap,
      );
    }
  return d[a.length]![b.length]! <= 2;
}
