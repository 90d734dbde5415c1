/**
 * `jetjob worker list|get|drain|undrain|label|forget`: the worker registry (fleet agents and queue
 * workers), each operation an agent offers with its kind and arguments, and operator control of one
 * agent.
 */
import type { Command } from "commander";

import { ValidationError } from "../core/errors.js";
import type { AgentView } from "../fleet/registry.js";
import type { QueueWorkerView } from "../worker/presence.js";
import { addClientFlags, clientFor } from "./client-flags.js";
import type { ClientFlags, Runner } from "./client-flags.js";
import { color, printFields, printJson, printTable, shortTime } from "./output.js";

interface WorkerListFlags extends ClientFlags {
  label?: string;
  offline?: boolean;
  kind?: string;
}

type Listed = AgentView | QueueWorkerView;

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
        "workers online: fleet agents (labels, state, running jobs) and queue workers (queues, running " +
          "jobs, host); [TARGET]: only the agents a target expression selects",
      )
      .argument("[target]", "a target expression (as for job run), e.g. 'group:web and G@os.name=debian'")
      .option(
        "-l, --label <key:value>",
        "only agents with this label (hierarchical: group:web lists group:web.dev)",
      )
      .option("--kind <kind>", "only 'agent' (fleet agents) or 'queue' (queue workers)")
      .option("--offline", "include workers whose heartbeat stopped"),
  ).action((expr: string | undefined, f: WorkerListFlags) =>
    run(async () => {
      if (f.kind !== undefined && f.kind !== "agent" && f.kind !== "queue")
        throw new ValidationError(`--kind must be 'agent' or 'queue', not '${f.kind}'`);
      const client = clientFor(f);
      // A target or a label selects agents only: queue workers have neither host targets nor labels.
      const agentsOnly = f.kind === "agent" || expr !== undefined || f.label !== undefined;
      let workers =
        f.kind === "queue"
          ? []
          : await client.workers.list({
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
      const queueWorkers = agentsOnly
        ? []
        : await client.workers.queueWorkers(f.offline ? { includeOffline: true } : {});
      const all: Listed[] = [...workers, ...queueWorkers];
      if (f.json) return printJson(all);
      if (all.length === 0) {
        process.stdout.write(
          f.kind === "queue"
            ? "no queue workers online\n"
            : f.kind === "agent"
              ? "no agents online\n"
              : "no workers online\n",
        );
        return;
      }
      printTable(
        ["KIND", "NAME", "STATE", "RUNNING", "LABELS", "QUEUES", "OS/HOST", "VERSION", "LAST SEEN"],
        all.map((w) =>
          w.kind === "queue"
            ? [
                "queue",
                w.id,
                !w.online
                  ? color.red("offline")
                  : w.state !== undefined && w.state !== "running"
                    ? color.yellow(w.state) // quiet or draining: shutting down, takes no new jobs
                    : color.green("online"),
                w.via === "http" ? "-" : `${w.running}/${w.concurrency}`,
                "-",
                w.queues.join(",") || "-",
                w.via === "http" ? "(HTTP worker)" : `${w.host} (pid ${w.pid})`,
                w.version,
                shortTime(w.last_seen),
              ]
            : [
                "agent",
                w.hostname,
                agentStateCell(w.online ? w.state : "offline"),
                `${w.running}/${w.concurrency}`,
                Object.entries(w.labels)
                  .map(([k, v]) => `${k}:${v}`)
                  .join(",") || "-",
                w.queues.join(",") || "-",
                String(w.facts["os.pretty_name"] ?? w.facts["os.name"] ?? "-"),
                w.version,
                shortTime(w.last_seen),
              ],
        ),
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
        ["facts", w.facts],
      ]);
      process.stdout.write("\noperations (* changes the host):\n");
      printTable(
        ["OPERATION", "KIND", "ARGUMENTS"],
        w.operations.map((o) => [
          `${o.name}${o.kind === "modify" ? "*" : ""}`,
          o.kind,
          o.args_schema === undefined ? "(not declared)" : schemaSummary(o.args_schema),
        ]),
      );
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

/** A one-line summary of an argument schema: `{command: string, args?: string[], …}`. */
export function schemaSummary(schema: Record<string, unknown>): string {
  const props = schema.properties;
  if (schema.type !== "object" || typeof props !== "object" || props === null) return JSON.stringify(schema);
  const required = new Set(Array.isArray(schema.required) ? (schema.required as string[]) : []);
  const fields = Object.entries(props as Record<string, Record<string, unknown>>).map(
    ([name, p]) => `${name}${required.has(name) ? "" : "?"}: ${typeName(p)}`,
  );
  return fields.length === 0 ? "none" : `{${fields.join(", ")}}`;
}

function typeName(p: Record<string, unknown>): string {
  if (Array.isArray(p.enum)) return p.enum.map((v) => JSON.stringify(v)).join("|");
  if (p.type === "array" && typeof p.items === "object" && p.items !== null)
    return `${typeName(p.items as Record<string, unknown>)}[]`;
  if (Array.isArray(p.anyOf)) return (p.anyOf as Array<Record<string, unknown>>).map(typeName).join("|");
  return typeof p.type === "string" ? p.type : Array.isArray(p.type) ? p.type.join("|") : "any";
}
