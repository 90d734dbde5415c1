/**
 * Latency at a moderate fixed rate: one single enqueue every 2 ms for 5 s (2,500 jobs), the send time
 * in the job's args, a worker at concurrency 10 in the same process; the figure is enqueue call →
 * handler start, p50/p95/p99 per run. jetjob against BullMQ, and raw JetStream publish → receive for
 * reference. Each run starts its own server and sends an untimed warm-up at the same pace first.
 */
import type { Spread } from "../lib/report.js";
import { fmtOr, printTable, spreadOf, writeResult } from "../lib/report.js";
import { percentile } from "../lib/progress.js";
import { rawLatency } from "../lib/raw-jetstream.js";
import { attempt } from "../lib/report.js";
import { latency } from "../lib/runs.js";
import { systemNames } from "../lib/systems.js";

export interface LatencyParams {
  intervalMs: number;
  jobs: number;
  warmup: number;
  concurrency: number;
  runs: number;
}

export const latencyDefaults = {
  full: { intervalMs: 2, jobs: 2500, warmup: 250, concurrency: 10, runs: 3 },
  quick: { intervalMs: 2, jobs: 500, warmup: 100, concurrency: 10, runs: 1 },
} satisfies Record<string, LatencyParams>;

export interface LatencyRow {
  system: string;
  measure: string;
  p50_ms: Spread | undefined;
  p95_ms: Spread | undefined;
  p99_ms: Spread | undefined;
  max_ms: Spread | undefined;
  failures: string[];
}

export async function runLatency(p: LatencyParams): Promise<LatencyRow[]> {
  const variants = [
    ...systemNames.map((name) => ({
      system: name,
      measure: "enqueue → handler start",
      run: () => latency(name, p.concurrency, p.jobs, p.warmup, p.intervalMs),
    })),
    {
      system: "raw JetStream",
      measure: "publish → receive",
      run: () => rawLatency(p.jobs, p.warmup, p.intervalMs),
    },
  ];
  const perRun = new Map<string, Array<{ p50: number; p95: number; p99: number; max: number }>>();
  const failures = new Map<string, string[]>();
  for (let r = 0; r < p.runs; r++) {
    for (const v of variants) {
      const got = await attempt(`${v.system} latency`, v.run);
      if (Array.isArray(got)) {
        const m = {
          p50: percentile(got, 50),
          p95: percentile(got, 95),
          p99: percentile(got, 99),
          max: got.at(-1)!,
        };
        perRun.set(v.system, [...(perRun.get(v.system) ?? []), m]);
        process.stderr.write(
          `  run ${r + 1}: ${v.system}: p50 ${m.p50.toFixed(2)} ms, p95 ${m.p95.toFixed(2)} ms, p99 ${m.p99.toFixed(2)} ms (${got.length} jobs)\n`,
        );
      } else failures.set(v.system, [...(failures.get(v.system) ?? []), got.error]);
    }
  }
  return variants.map((v) => {
    const runs = perRun.get(v.system) ?? [];
    return {
      system: v.system,
      measure: v.measure,
      p50_ms: spreadOf(runs.map((m) => m.p50)),
      p95_ms: spreadOf(runs.map((m) => m.p95)),
      p99_ms: spreadOf(runs.map((m) => m.p99)),
      max_ms: spreadOf(runs.map((m) => m.max)),
      failures: failures.get(v.system) ?? [],
    };
  });
}

export async function latencyScenario(quick: boolean): Promise<void> {
  const params = quick ? latencyDefaults.quick : latencyDefaults.full;
  process.stderr.write(
    `latency: one enqueue every ${params.intervalMs} ms, ${params.jobs} jobs after ${params.warmup} warm-up, concurrency ${params.concurrency}, ${params.runs} run(s)\n`,
  );
  const rows = await runLatency(params);
  printTable(
    `Latency at one enqueue every ${params.intervalMs} ms (${params.jobs} jobs, worker concurrency ${params.concurrency}, same process; ms, median (min–max) of ${params.runs})`,
    ["system", "measure", "p50", "p95", "p99"],
    rows.map((r) => [r.system, r.measure, fmtOr(r.p50_ms, 2), fmtOr(r.p95_ms, 2), fmtOr(r.p99_ms, 2)]),
  );
  const path = writeResult("latency", { params, rows });
  process.stdout.write(`\nwritten: ${path}\n`);
}
