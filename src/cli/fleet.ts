/**
 * Fleet commands: `jetjob job run OP --target EXPR` (live per-host table; exit 0 all completed, 1 some
 * failed, 3 unreachable or timed out), `jetjob job status ID`, and `jetjob worker list|get|drain|
 * undrain|label|forget`.
 */
import type { Command } from "commander";

import type { Client } from "../client/client.js";
import type { FleetJob, HostResult } from "../client/fleet.js";
import { ExitCode, ValidationError } from "../core/errors.js";
import { countHosts } from "../fleet/fold.js";
import { addClientFlags, clientFor, durationFlag } from "./client-flags.js";
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
  try {
    return JSON.parse(v) as unknown;
  } catch {
    throw new ValidationError(`--args must be JSON, e.g. --args '{"host":"example.com"}'`);
  }
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

export function printFleetJob(job: FleetJob): void {
  printFields([
    ["id", job.id],
    ["op", `${job.op} (${job.op_kind})`],
    ["target", job.target],
    ["status", stateCell(job.status)],
    ["hosts", summaryLine(job.counts)],
    ["created", job.created_at],
    ["deadline", job.deadline_at],
    ["finished", job.finished_at],
    ["reason", job.reason],
    ["retry of", job.retry_of],
    ["epoch", job.reclaims > 0 ? `${job.epoch} (taken over ${job.reclaims}x)` : job.epoch],
  ]);
  if (job.results.length > 0) {
    process.stdout.write("\n");
    process.stdout.write(renderTable(job.results));
  }
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
    out.write(
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
  const rows = new Map<string, HostResult>(created.results.map((r) => [r.host, r]));
  const counts = () => countHosts(rows.values());
  const live = tty ? createLiveTable(out, renderTable) : undefined;
  live?.update([...rows.values()], counts());
  for await (const r of run) {
    rows.set(r.host, r);
    if (live) live.update([...rows.values()], counts());
    else if (!f.json)
      out.write(`${r.host}  ${stateCell(r.state)}  ${durationCell(r.duration_ms)}  ${outcomeCell(r, 200)}\n`);
  }
  live?.end();
  process.off("SIGINT", onInterrupt);
  const job = await client.fleet.get(created.id);
  if (f.json) printJson(job);
  else out.write(summaryLine(job.counts, job.status) + "\n");
  return fleetExitCode(job);
}

/** `jetjob job watch ID` for a targeted job: one line per timeline event (NDJSON with --json). */
export async function watchFleetJob(client: Client, id: string, json: boolean): Promise<number> {
  for await (const e of client.fleet.timeline(id)) {
    if (json) {
      process.stdout.write(JSON.stringify(e) + "\n");
      continue;
    }
    const data = e.data === undefined ? "" : color.dim(truncate(JSON.stringify(e.data), 100));
    process.stdout.write(
      `${color.dim(shortTime(e.timestamp))}  ${stateCell(e.event).padEnd(12)}  ${e.host ?? "-"}  ${data}\n`,
    );
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

interface WorkerListFlags extends ClientFlags {
  label?: string;
  offline?: boolean;
}

function agentStateCell(state: string): string {
  if (state === "ready") return color.green(state);
  if (state === "draining") return color.yellow(state);
  return color.red(state);
}

export function registerWorkerCommands(program: Command, run: Runner): void {
  const worker = program.command("worker").description("agents in the worker registry: list, drain, labels");
  addClientFlags(
    worker
      .command("list")
      .description(
        "agents online, with labels, state and running jobs; [TARGET]: only those a target expression selects",
      )
      .argument("[target]", "a target expression (as for job run), e.g. 'group:web and G@os.name=debian'")
      .option(
        "-l, --label <key:value>",
        "only agents with this label (hierarchical: group:web lists group:web.dev)",
      )
      .option("--offline", "include agents whose heartbeat stopped"),
  ).action((expr: string | undefined, f: WorkerListFlags) =>
    run(async () => {
      const client = clientFor(f);
      let workers = await client.workers.list({
        ...(f.label === undefined ? {} : { label: f.label }),
        ...(f.offline || expr !== undefined ? { includeOffline: true } : {}),
      });
      if (expr !== undefined) {
        // The hosts the target selects or names (offline ones too: they show as offline).
        const p = await client.fleet.preview(expr);
        const named = new Set([...p.hosts, ...p.left_out.map((l) => l.host)].map((h) => h.toLowerCase()));
        workers = workers.filter(
          (w) =>
            named.has(w.hostname.toLowerCase()) &&
            (f.offline ||
              w.online ||
              p.left_out.some((l) => l.host.toLowerCase() === w.hostname.toLowerCase())),
        );
      }
      if (f.json) return printJson(workers);
      if (workers.length === 0) {
        process.stdout.write("no agents online\n");
        return;
      }
      printTable(
        ["HOSTNAME", "STATE", "RUNNING", "LABELS", "OS", "VERSION", "LAST SEEN"],
        workers.map((w) => [
          w.hostname,
          agentStateCell(w.online ? w.state : "offline"),
          `${w.running}/${w.concurrency}`,
          Object.entries(w.labels)
            .map(([k, v]) => `${k}:${v}`)
            .join(",") || "-",
          String(w.facts["os.pretty_name"] ?? w.facts["os.name"] ?? "-"),
          w.version,
          shortTime(w.last_seen),
        ]),
      );
    }, f.json),
  );
  addClientFlags(
    worker.command("get").description("one agent with its facts and operations").argument("<hostname>"),
  ).action((host: string, f: ClientFlags) =>
    run(async () => {
      const w = await clientFor(f).workers.get(host);
      if (f.json) return printJson(w);
      printFields([
        ["hostname", w.hostname],
        ["state", w.online ? w.state : "offline"],
        ["running", `${w.running}/${w.concurrency}`],
        ["labels", w.labels],
        ["version", w.version],
        ["started", w.started_at],
        ["last seen", w.last_seen],
        ["queues", w.queues.length ? w.queues.join(", ") : undefined],
        ["operations", w.operations.map((o) => `${o.name}${o.kind === "modify" ? "*" : ""}`).join(" ")],
        ["facts", w.facts],
      ]);
    }, f.json),
  );
  for (const verb of ["drain", "undrain"] as const) {
    addClientFlags(
      worker
        .command(verb)
        .description(verb === "drain" ? "finish running jobs and take no new ones" : "take jobs again")
        .argument("<hostname>"),
    ).action((host: string, f: ClientFlags) =>
      run(async () => {
        const c = await clientFor(f).workers[verb](host);
        if (f.json) return printJson(c);
        process.stdout.write(`${host}: ${c.drain ? "draining (no new jobs)" : "taking jobs"}\n`);
      }, f.json),
    );
  }
  addClientFlags(
    worker
      .command("forget")
      .description(
        "forget an agent that stopped (a decommissioned host), so targets no longer list it unreachable",
      )
      .argument("<hostname>"),
  ).action((host: string, f: ClientFlags) =>
    run(async () => {
      const w = await clientFor(f).workers.forget(host);
      if (f.json) return printJson(w);
      process.stdout.write(`${host}: forgotten (last seen ${w.last_seen})\n`);
    }, f.json),
  );
  addClientFlags(
    worker
      .command("label")
      .description("replace an agent's labels at run time (--reset: back to its configured labels)")
      .argument("<hostname>")
      .argument("[labels...]", "key:value labels")
      .option("--reset", "drop the override"),
  ).action((host: string, labels: string[], f: ClientFlags & { reset?: boolean }) =>
    run(async () => {
      let next: Record<string, string> | null = null;
      if (!f.reset) {
        next = {};
        for (const l of labels) {
          const i = l.indexOf(":");
          if (i <= 0) throw new ValidationError(`label '${l}' must be key:value`);
          next[l.slice(0, i)] = l.slice(i + 1);
        }
      }
      const c = await clientFor(f).workers.setLabels(host, next);
      if (f.json) return printJson(c);
      process.stdout.write(`${host}: labels ${c.labels ? JSON.stringify(c.labels) : "as configured"}\n`);
    }, f.json),
  );
}
