/**
 * Benchmark bookkeeping: machine info, median/min/max over runs, the stdout table and the JSON file
 * `bench/results/<date>-<scenario>.json`.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, freemem, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import { findNatsServer, packageRoot } from "../../src/natsd/index.js";
import { findRedisServer } from "./redis.js";

export interface Spread {
  median: number;
  min: number;
  max: number;
  runs: number[];
}

export function spread(runs: number[]): Spread {
  const sorted = [...runs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median, min: sorted[0]!, max: sorted[sorted.length - 1]!, runs };
}

export function machineInfo(): Record<string, unknown> {
  const cpu = cpus();
  let redis: string | undefined;
  try {
    // The binary the BullMQ runs use (PATH, else .tools/bin).
    const found = findRedisServer();
    redis = `${found.version} (${found.path})`;
  } catch {
    redis = undefined;
  }
  return {
    cores: cpu.length,
    cpu: cpu[0]?.model,
    memory_gib: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    free_gib: Math.round((freemem() / 2 ** 30) * 10) / 10,
    node: process.version,
    nats_server: natsVersion(),
    redis,
    platform: `${process.platform} ${process.arch}`,
    jetjob: jetjobRevision(),
  };
}

/** The commit the measured code comes from, marked when src/ has uncommitted changes. */
function jetjobRevision(): string | undefined {
  try {
    const git = (...args: string[]) =>
      execFileSync("git", args, { cwd: packageRoot, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
    const sha = git("rev-parse", "--short=12", "HEAD").trim();
    const dirty = git("status", "--porcelain", "--", "src").trim() !== "";
    return dirty ? `${sha} + uncommitted changes in src/` : sha;
  } catch {
    return undefined;
  }
}

/** `1234.5 (1100–1300)` */
export function fmt(s: Spread, digits = 0): string {
  const f = (n: number) => n.toFixed(digits);
  return `${f(s.median)} (${f(s.min)}–${f(s.max)})`;
}

export function printTable(title: string, headers: string[], rows: string[][]): void {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join("  ")
      .trimEnd();
  process.stdout.write(`\n${title}\n${line(headers)}\n${line(widths.map((w) => "-".repeat(w)))}\n`);
  for (const r of rows) process.stdout.write(`${line(r)}\n`);
}

/** Runs `fn` `runs` times; a failed run is reported on stderr and recorded, the others still count. */
export async function repeat(
  label: string,
  runs: number,
  fn: (run: number) => Promise<number>,
): Promise<{ values: number[]; failures: string[] }> {
  const values: number[] = [];
  const failures: string[] = [];
  for (let r = 0; r < runs; r++) {
    const v = await attempt(label, () => fn(r));
    if (typeof v === "number") values.push(v);
    else failures.push(v.error);
  }
  return { values, failures };
}

/** Runs `fn` once; an error is reported on stderr and returned instead of thrown. */
export async function attempt<T>(label: string, fn: () => Promise<T>): Promise<T | { error: string }> {
  try {
    return await fn();
  } catch (err) {
    const error = err instanceof Error ? err.message : String(err);
    process.stderr.write(`  FAILED ${label}: ${error}\n`);
    return { error };
  }
}

/** Spread of the runs that succeeded, or undefined when none did. */
export function spreadOf(values: number[]): Spread | undefined {
  return values.length > 0 ? spread(values) : undefined;
}

/** `fmt`, or "failed" for a figure without a successful run. */
export function fmtOr(s: Spread | undefined, digits = 0): string {
  return s ? fmt(s, digits) : "failed";
}

/** a / b as `1.23×`, or "–" when either is missing. */
export function ratio(a: Spread | undefined, b: Spread | undefined): string {
  return a && b ? `${(a.median / b.median).toFixed(2)}×` : "–";
}

export const resultsDir = join(dirname(fileURLToPath(import.meta.url)), "..", "results");

let quickRun = false;

/**
 * Marks this as a `--quick` run: its results go to `<date>-<scenario>-quick.json`, so a smoke run
 * never overwrites the figures of a full run (the README tables are made from those).
 */
export function setQuick(quick: boolean): void {
  quickRun = quick;
}

/** Writes one scenario's parameters and figures with the machine info; returns the file path. */
export function writeResult(scenario: string, data: Record<string, unknown>): string {
  mkdirSync(resultsDir, { recursive: true });
  const date = new Date().toISOString().slice(0, 10);
  const path = join(resultsDir, `${date}-${scenario}${quickRun ? "-quick" : ""}.json`);
  const body = { scenario, at: new Date().toISOString(), quick: quickRun, machine: machineInfo(), ...data };
  writeFileSync(path, JSON.stringify(body, null, 2) + "\n");
  return path;
}

function natsVersion(): string | undefined {
  try {
    return findNatsServer().version;
  } catch {
    return undefined;
  }
}
