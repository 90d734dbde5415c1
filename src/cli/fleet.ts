/**
 * Fleet commands: `jetjob job run OP --target EXPR` (live per-host table; exit 0 all completed, 1 some
 * failed, 7 hosts missing), `jetjob job status ID`, `jetjob job watch ID` and `jetjob target resolve`.
 */
import type { Command } from "commander";

import type { Client } from "../client/client.js";
import type { FleetJob, HostResult } from "../client/fleet.js";
import type { TimelineEventView } from "../fleet/types.js";
import { ExitCode } from "../core/errors.js";
import { applyEvent, countHosts, eventFromView, hostView, newHostFolds } from "../fleet/fold.js";
import { terminalHostStates } from "../fleet/types.js";
import { addClientFlags, clientFor, durationFlag, parseJsonFlag } from "./client-flags.js";
import type { ClientFlags, Runner } from "./client-flags.js";
import {
  createLiveTable,
  durationCell,
  hostRows,
  outcomeCell,
  stateCell,
  summaryLine,
} from "./fleet-table.js";
import { color, printFields, printJson, printTable, shortTime, truncate } from "./output.js";

interface RunFlags extends ClientFlags {
  target: string;
  args?: string;
  timeout?: string;
  ackWindow?: string;
  onlyReady?: boolean;
  detach?: boolean;
  dryRun?: boolean;
  stdout?: boolean;
}

/**
 * 0 every host completed; 1 the operation failed on some host (or the job was cancelled); 7 some
 * hosts did not answer or were left out (unreachable, timeout, skipped) and none failed.
 */
export function fleetExitCode(job: FleetJob): number {
  if (job.status === "completed") return ExitCode.Ok;
  if (job.counts.failed > 0 || job.status === "cancelled") return ExitCode.Failed;
  const missing = job.counts.unreachable + job.counts.timeout + (job.counts.skipped ?? 0);
  if (missing > 0 || job.status === "timeout") return ExitCode.HostsMissing;
  return ExitCode.Failed;
}

function parseArgsFlag(v: string | undefined): unknown {
  if (v === undefined) return undefined;
  return parseJsonFlag("--args", v, '{"host":"example.com"}');
}

function renderTable(rows: HostResult[]): string {
  const headers = ["HOST", "STATE", "DURATION", "RESULT"];
  const cells = hostRows(rows);
  const strip = (s: string) => s.replace(/\u001b\[[0-9;]*m/g, ""); // eslint-disable-line no-control-regex
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => strip(r[i] ?? "").length)));
  const line = (cs: string[]) =>
    cs
      .map((c, i) => (i === cs.length - 1 ? c : c + " ".repeat(widths[i]! - strip(c).length)))
      .join("  ")
      .trimEnd();
  return [color.dim(line(headers)), ...cells.map(line)].join("\n") + "\n";
}

export function printFleetJob(job: FleetJob, o: { timeline?: boolean } = {}): void {
  printFields([
    ["id", job.id],
    ["op", `${job.op} (${job.op_kind})`],
    ["target", job.target],
    ["status", stateCell(job.status)],
    ["hosts", summaryLine(job.counts)],
    ["created", `${shortTime(job.created_at)}${job.created_by ? ` by ${job.created_by}` : ""}`],
    ["deadline", shortTime(job.deadline_at)],
    ["finished", job.finished_at === undefined ? undefined : shortTime(job.finished_at)],
    ["reason", job.reason],
    ["retry of", job.retry_of],
    ["moved from", job.moved_from?.join(", ")],
    ["epoch", job.reclaims > 0 ? `${job.epoch} (taken over ${job.reclaims}x)` : job.epoch],
  ]);
  if (job.results.length > 0) {
    process.stdout.write("\n");
    process.stdout.write(renderTable(job.results));
  }
  if (o.timeline === true && job.timeline && job.timeline.length > 0) {
    process.stdout.write("\n" + color.dim("timeline") + "\n");
    for (const e of job.timeline) printTimelineEvent(e);
  }
}

/** One timeline event as a line (output events as `host | line` lines). */
function printTimelineEvent(e: TimelineEventView): void {
  const time = `${color.dim(shortTime(e.timestamp))}  `;
  if (e.event === "output" && e.host !== undefined) return writeOutputLines(e.host, e.data, time);
  const data = e.data === undefined ? "" : color.dim(truncate(JSON.stringify(e.data), 100));
  process.stdout.write(`${time}${stateCell(e.event).padEnd(12)}  ${e.host ?? "-"}  ${data}\n`);
}

/** Prints where a target would send a job, and what it would leave out with why. */
export async function printPreview(
  client: Client,
  target: string,
  op: string | undefined,
  f: { json?: boolean; onlyReady?: boolean },
): Promise<number> {
  const p = await client.fleet.preview(target, op, f.onlyReady ? { onlyReady: true } : {});
  if (f.json) {
    printJson(p);
  } else {
    const rows = [
      ...p.hosts.map((h) => [h, color.green("selected"), ""]),
      ...p.left_out.map((l) => [l.host, stateCell(l.state), l.reason]),
    ];
    if (rows.length === 0) process.stdout.write(`${target} selects no agent\n`);
    else printTable(["HOST", "WOULD BE", "WHY"], rows);
    process.stdout.write(
      color.dim(`${p.hosts.length} selected, ${p.left_out.length} left out${op ? ` (op ${op})` : ""}`) + "\n",
    );
  }
  return p.hosts.length > 0 ? ExitCode.Ok : ExitCode.Usage;
}

async function runOnFleet(client: Client, op: string, f: RunFlags): Promise<number> {
  const args = parseArgsFlag(f.args);
  if (f.dryRun) return printPreview(client, f.target, op, f);
  const run = client.run(op, {
    target: f.target,
    ...(args === undefined ? {} : { args }),
    ...(f.timeout === undefined ? {} : { timeoutMs: durationFlag("--timeout", f.timeout) }),
    ...(f.ackWindow === undefined ? {} : { ackWindowMs: durationFlag("--ack-window", f.ackWindow) }),
    ...(f.onlyReady ? { onlyReady: true } : {}),
  });
  const created = await run.created;
  const out = process.stdout;
  if (f.detach) {
    // The job runs on; the caller follows it later.
    if (f.json) printJson(created);
    else {
      out.write(created.id + "\n");
      process.stderr.write(
        color.dim(`follow: jetjob job watch ${created.id}   status: jetjob job status ${created.id}`) + "\n",
      );
    }
    return ExitCode.Ok;
  }
  const tty = out.isTTY === true && f.json !== true;
  if (!f.json) {
    const left = created.left_out?.length ?? 0;
    (f.stdout ? process.stderr : out).write(
      color.dim(
        `job ${created.id}: ${op} on ${created.hosts.length} host(s) (${f.target})${left > 0 ? `, ${left} left out` : ""}`,
      ) + "\n",
    );
  }
  // Ctrl-C stops watching, not the job: say how to go on.
  const onInterrupt = () => {
    process.stderr.write(
      `\njob ${created.id} is still running on the agents.\n` +
        `  follow it:  jetjob job watch ${created.id}\n` +
        `  cancel it:  jetjob job cancel ${created.id}\n`,
    );
    process.exit(130);
  };
  process.once("SIGINT", onInterrupt);
  // The job's timeline, folded here: states, output lines and progress as they arrive.
  const folds = newHostFolds(created.hosts, created.left_out);
  const rows = () => [...folds.values()].map(hostView);
  const live = tty && !f.stdout ? createLiveTable(out, renderTable) : undefined;
  live?.update(rows(), countHosts(folds.values()));
  const printed = new Set<string>();
  const several = folds.size > 1;
  for await (const e of client.fleet.timeline(created.id)) {
    applyEvent(folds, eventFromView(e));
    if (live) {
      live.update(rows(), countHosts(folds.values()));
      continue;
    }
    if (f.json) continue;
    if (!f.stdout && e.event === "output" && e.host !== undefined) {
      writeOutputLines(e.host, e.data, "");
      continue;
    }
    for (const r of rows()) {
      if (!terminalHostStates.has(r.state) || printed.has(r.host)) continue;
      printed.add(r.host);
      if (f.stdout) writeRawStdout(r, several);
      else
        out.write(
          `${r.host}  ${stateCell(r.state)}  ${durationCell(r.duration_ms)}  ${outcomeCell(r, 200)}\n`,
        );
    }
  }
  live?.end();
  process.off("SIGINT", onInterrupt);
  const job = await client.fleet.get(created.id);
  if (f.json) printJson(job);
  else (f.stdout ? process.stderr : out).write(summaryLine(job.counts, job.status) + "\n");
  return fleetExitCode(job);
}

/** A host's output lines as they arrive: `host | line` (stderr lines in red). */
function writeOutputLines(host: string, data: Record<string, unknown> | undefined, time: string): void {
  const lines = Array.isArray(data?.lines) ? (data.lines as unknown[]) : [];
  const paint = data?.stream === "stderr" ? color.red : (s: string) => s;
  for (const l of lines) process.stdout.write(`${time}${color.dim(`${host} |`)} ${paint(String(l))}\n`);
  if (typeof data?.dropped_lines === "number") {
    process.stdout.write(
      `${time}${color.dim(`${host} | (${data.dropped_lines} more lines not streamed; the result keeps the output)`)}\n`,
    );
  }
}

/** `--stdout`: a host's stdout as it produced it (a header per host on stderr when there are several). */
function writeRawStdout(r: HostResult, several: boolean): void {
  const res = r.result as { stdout?: unknown } | undefined;
  if (several) process.stderr.write(color.dim(`==> ${r.host} (${r.state}) <==`) + "\n");
  if (typeof res?.stdout === "string") process.stdout.write(res.stdout);
  else if (r.result !== undefined) process.stdout.write(JSON.stringify(r.result) + "\n");
  if (r.error) process.stderr.write(`${r.host}: ${r.error.code}: ${r.error.message}\n`);
}

/** `jetjob job watch ID` for a targeted job: one line per timeline event (NDJSON with --json). */
export async function watchFleetJob(client: Client, id: string, json: boolean): Promise<number> {
  for await (const e of client.fleet.timeline(id)) {
    if (json) process.stdout.write(JSON.stringify(e) + "\n");
    else printTimelineEvent(e);
  }
  const job = await client.fleet.get(id);
  if (!json) process.stdout.write(summaryLine(job.counts, job.status) + "\n");
  return fleetExitCode(job);
}

/** `jetjob target resolve EXPR`: a target's preview (what `job run --dry-run` prints). */
export function registerTargetCommand(program: Command, run: Runner): void {
  const target = program.command("target").description("preview fleet targets");
  addClientFlags(
    target
      .command("resolve")
      .description(
        "which agents a target selects now, and which hosts it names or matches but would leave out, with why; exit 2 when it selects none",
      )
      .argument("<expr>", "target expression, e.g. 'group:web and not host:web-3'")
      .option("--op <op>", "only agents that offer this operation")
      .option("--only-ready", "list nothing left out (as `job run --only-ready` would)"),
  ).action((expr: string, f: ClientFlags & { op?: string; onlyReady?: boolean }) =>
    run(async () => {
      process.exitCode = await printPreview(clientFor(f), expr, f.op, f);
    }, f.json),
  );
}

export function registerFleetJobCommands(job: Command, run: Runner): void {
  addClientFlags(
    job
      .command("run")
      .description(
        "run an operation on the agents a target selects, with a live per-host table; exit 0 all completed, 1 some failed, 7 some unreachable, timed out or skipped (README: CLI exit codes)",
      )
      .argument("<op>", "operation, e.g. system.hostname.get")
      .requiredOption(
        "-t, --target <expr>",
        "any, all, host:NAME, group:web.dev, web-*, E@re, G@fact>=n, L@a,b, and/or/not",
      )
      .option("--args <json>", 'arguments as JSON, e.g. \'{"host":"example.com"}\'')
      .option("--timeout <duration>", "deadline of the whole job: ms, 10s, 5m (default: the server's, 60s)")
      .option("--ack-window <duration>", "re-send to silent hosts after this long (default 3s)")
      .option(
        "--only-ready",
        "send only to live, ready agents that offer the operation; leave the rest out silently",
      )
      .option("--detach", "print the job id and return at once (follow with `jetjob job watch ID`)")
      .option(
        "--stdout",
        "print each host's raw stdout (command.exec) as it finishes; the summary goes to stderr",
      )
      .option(
        "--dry-run",
        "show which hosts the target selects and which it would leave out, and why; run nothing",
      ),
  ).action((op: string, f: RunFlags) =>
    run(async () => {
      process.exitCode = await runOnFleet(clientFor(f), op, f);
    }, f.json),
  );

  addClientFlags(
    job
      .command("status")
      .description("a targeted job's status and per-host results; exit code as for `job run`")
      .argument("<id>", "job id"),
  ).action((id: string, f: ClientFlags) =>
    run(async () => {
      const j = await clientFor(f).fleet.get(id);
      if (f.json) printJson(j);
      else printFleetJob(j);
      if (j.status !== "running") process.exitCode = fleetExitCode(j);
    }, f.json),
  );
}
