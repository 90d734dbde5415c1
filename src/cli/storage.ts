/**
 * `jetjob storage`: what jetjob stores and what housekeeping will remove next — every stream and
 * bucket with its messages, bytes and oldest entry; the housekeeper's walk per queue lane; the
 * retention in force; the removal checks due next.
 */
import type { Command } from "commander";

import type { StorageInfo } from "../client/api.js";
import { formatBytes, formatDuration } from "../core/storage-options.js";
import { addClientFlags, clientFor } from "./client-flags.js";
import type { ClientFlags, Runner } from "./client-flags.js";
import { color, printFields, printJson, printTable, shortTime } from "./output.js";

const n = (v: number) => v.toLocaleString("en-US");

export function printStorage(s: StorageInfo): void {
  const out = process.stdout;
  printTable(
    ["STREAM / BUCKET", "MESSAGES", "BYTES", "OLDEST", "LIMITS", "HOLDS"],
    s.resources.map((r) => [
      r.name,
      n(r.messages),
      formatBytes(r.bytes),
      shortTime(r.oldest_at),
      [
        r.max_age_ms === undefined ? "" : `age ${formatDuration(r.max_age_ms)}`,
        r.max_bytes === undefined ? "" : formatBytes(r.max_bytes),
      ]
        .filter(Boolean)
        .join(", ") || "-",
      color.dim(r.holds),
    ]),
  );
  out.write(`${color.dim("total")}  ${n(s.totals.messages)} messages, ${formatBytes(s.totals.bytes)}\n\n`);

  const d = s.retention.defaults;
  out.write(color.bold("retention") + "\n");
  printFields([
    [
      "defaults",
      `completed ${formatDuration(d.completed_ms)}, discarded ${formatDuration(d.discarded_ms)}, dead letters ${formatDuration(d.dead_letter_ms)}, fleet jobs ${formatDuration(d.fleet_ms)}`,
    ],
    ...s.retention.queues.map((q): [string, string] => [`queue ${q.name}`, retentionText(q.retention)]),
  ]);
  out.write("\n" + color.bold("housekeeper") + "\n");
  const h = s.housekeeper;
  printFields([
    [
      "leader",
      h.leader === undefined ? color.yellow("none") : `${h.leader}${h.this_server ? " (this server)" : ""}`,
    ],
    [
      "removed",
      h.removed === undefined
        ? undefined
        : `${n(h.removed.jobs)} jobs in ${n(h.removed.segments)} segments, ${n(h.removed.fleet_jobs)} fleet jobs, ${n(h.removed.journals)} journals (by the answering server since it started)`,
    ],
    ["delay stream", `walked to ${h.delay.cursor} of ${h.delay.last_seq}`],
  ]);
  if (h.lanes.length > 0) {
    out.write("\n");
    printTable(
      ["QUEUE", "PRIORITY", "WALKED TO", "LAST", "SEGMENTS KEPT", "CURSOR MOVED"],
      h.lanes.map((l) => [
        l.queue,
        String(l.priority),
        String(l.cursor),
        String(l.last_seq),
        n(l.segments),
        shortTime(l.cursor_moved_at),
      ]),
    );
  }
  out.write("\n" + color.bold("removal checks due next") + ` (${n(s.next_removals.checks)} pending)\n`);
  if (s.next_removals.due.length === 0) {
    out.write("none\n");
    return;
  }
  printTable(
    ["MINUTE", "CHECKS", "SEGMENTS", "JOURNALS", "FLEET JOBS"],
    s.next_removals.due.map((r) => [
      shortTime(r.minute_at),
      n(r.checks),
      r.segments === undefined ? "-" : n(r.segments),
      r.journals === undefined ? "-" : n(r.journals),
      r.fleet_jobs === undefined ? "-" : n(r.fleet_jobs),
    ]),
  );
}

export function retentionText(r: StorageInfo["retention"]["queues"][number]["retention"]): string {
  const parts: string[] = [];
  if (r.completed_ms !== undefined) parts.push(`completed ${formatDuration(r.completed_ms)}`);
  if (r.completed_count !== undefined) parts.push(`at most ~${n(r.completed_count)} completed`);
  if (r.discarded_ms !== undefined) parts.push(`discarded ${formatDuration(r.discarded_ms)}`);
  if (r.discarded_count !== undefined) parts.push(`at most ~${n(r.discarded_count)} discarded`);
  if (r.dead_letter_ms !== undefined) parts.push(`dead letters ${formatDuration(r.dead_letter_ms)}`);
  return parts.length === 0 ? "defaults" : parts.join(", ");
}

export function registerStorageCommand(program: Command, run: Runner): void {
  addClientFlags(
    program
      .command("storage")
      .description(
        "streams and buckets with their size and oldest entry, the housekeeper's progress and what retention removes next",
      ),
  ).action((f: ClientFlags) =>
    run(async () => {
      const s = await clientFor(f).storage();
      if (f.json) return printJson(s);
      printStorage(s);
    }, f.json),
  );
}
