/**
 * `jetjob job add|get|cancel`: client commands against the API server.
 */
import type { Command } from "commander";

import { createClient } from "../client/client.js";
import type { EnqueueOptions, Job } from "../client/types.js";
import { ValidationError } from "../core/errors.js";
import { parseIsoDurationMs } from "../core/time.js";
import { resolveApi } from "./endpoints.js";
import { printFields, printJson, stateColor } from "./output.js";

export interface ClientFlags {
  api?: string;
  token?: string;
  dataDir?: string;
  json?: boolean;
}

export function addClientFlags(cmd: Command): Command {
  return cmd
    .option("--api <url>", "API URL (default: $JETJOB_API_URL or .jetjob/endpoints.json)")
    .option("--token <token>", "API token (default: $JETJOB_API_TOKEN or .jetjob/admin.token)")
    .option("--data-dir <dir>", "data dir of `jetjob start` to read endpoints from (default: .jetjob)")
    .option("--json", "print JSON");
}

export function clientFor(f: ClientFlags) {
  const target = resolveApi({ api: f.api, token: f.token, dataDir: f.dataDir });
  return createClient({ url: target.url, ...(target.token === undefined ? {} : { token: target.token }) });
}

/** CLI args are JSON when they parse as JSON, strings otherwise (`42` → 42, `hello` → "hello"). */
export function parseArgValues(values: string[], argsJson: string | undefined): unknown[] {
  if (argsJson !== undefined) {
    let v: unknown;
    try {
      v = JSON.parse(argsJson);
    } catch {
      throw new ValidationError("--args must be a JSON array, e.g. --args '[\"a\", 1]'");
    }
    if (!Array.isArray(v)) throw new ValidationError("--args must be a JSON array");
    return v;
  }
  return values.map((s) => {
    try {
      return JSON.parse(s) as unknown;
    } catch {
      return s;
    }
  });
}

export interface AddFlags extends ClientFlags {
  queue?: string;
  priority?: string;
  args?: string;
  delay?: string;
  at?: string;
  maxAttempts?: string;
  timeoutMs?: string;
  id?: string;
}

export function enqueueOptionsFrom(f: AddFlags): EnqueueOptions {
  const o: EnqueueOptions = {};
  if (f.queue !== undefined) o.queue = f.queue;
  if (f.priority !== undefined) o.priority = intFlag("--priority", f.priority);
  if (f.id !== undefined) o.id = f.id;
  if (f.delay !== undefined) {
    const ms = /^\d+$/.test(f.delay)
      ? Number(f.delay)
      : parseIsoDurationMs(
          f.delay.toUpperCase().startsWith("P") ? f.delay.toUpperCase() : `PT${f.delay.toUpperCase()}`,
        );
    if (ms === undefined)
      throw new ValidationError(`--delay ${f.delay}: use milliseconds, 30s, 5m or an ISO duration like PT1H`);
    o.delayMs = ms;
  }
  if (f.at !== undefined) {
    const t = Date.parse(f.at);
    if (Number.isNaN(t))
      throw new ValidationError(`--at ${f.at}: use an RFC 3339 time like 2030-01-01T09:00:00Z`);
    o.runAt = new Date(t);
  }
  if (f.maxAttempts !== undefined) o.retry = { maxAttempts: intFlag("--max-attempts", f.maxAttempts) };
  if (f.timeoutMs !== undefined) o.timeoutMs = intFlag("--timeout-ms", f.timeoutMs);
  return o;
}

function intFlag(name: string, v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n)) throw new ValidationError(`${name} must be an integer, got ${v}`);
  return n;
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
    ["created", job.created_at],
    ["scheduled", job.scheduled_at],
    ["started", job.started_at],
    ["completed", job.completed_at],
    ["cancelled", job.cancelled_at],
    ["result", job.result],
    ["error", job.error ? `${job.error.code}: ${job.error.message}` : undefined],
    ["worker", job.worker_id],
  ]);
}

export function registerJobCommands(
  program: Command,
  run: (fn: () => Promise<void>, json?: boolean) => Promise<void>,
): void {
  const job = program.command("job").description("enqueue and inspect jobs");

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
      .option("--timeout-ms <ms>", "execution timeout of one attempt")
      .option("--id <uuidv7>", "your own job id (idempotent enqueue)"),
  ).action((type: string, values: string[], f: AddFlags) =>
    run(async () => {
      const client = clientFor(f);
      printJob(await client.enqueue(type, parseArgValues(values, f.args), enqueueOptionsFrom(f)), f.json);
    }, f.json),
  );

  addClientFlags(job.command("get").description("show a job").argument("<id>", "job id")).action(
    (id: string, f: ClientFlags) => run(async () => printJob(await clientFor(f).get(id), f.json), f.json),
  );

  addClientFlags(
    job.command("cancel").description("cancel a job that has not finished").argument("<id>", "job id"),
  ).action((id: string, f: ClientFlags) =>
    run(async () => printJob(await clientFor(f).cancel(id), f.json), f.json),
  );
}
