/**
 * Benchmark bookkeeping: machine info, median/min/max over runs, the stdout table and the JSON file
 * `bench/results/<date>-<scenario>.json`.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, freemem, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import { findNatsServer } from "../../src/natsd/index.js";

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
    redis = execFileSync("redis-server", ["--version"], { encoding: "utf8" }).trim();
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
  };
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

const resultsDir = join(dirname(fileURLToPath(import.meta.url)), "..", "results");

/** Writes one scenario's parameters and figures with the machine info; returns the file path. */
export function writeResult(scenario: string, data: Record<string, unknown>): string {
  mkdirSync(resultsDir, { recursive: true });
  const date = new Date().toISOString().slice(0, 10);
  const path = join(resultsDir, `${date}-${scenario}.json`);
  const body = { scenario, at: new Date().toISOString(), machine: machineInfo(), ...data };
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
