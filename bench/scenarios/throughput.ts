/**
 * Throughput: N no-op jobs enqueued and completed end to end, jetjob against BullMQ at worker
 * concurrency 1, 10 and 50, each with single enqueues (1,000 in flight) and with the batch API
 * (chunks of 1,000), and raw JetStream publish+consume+ack as the ceiling. Every run starts its own
 * server, runs producer and worker in this process, warms up untimed and is timed from the first
 * enqueue to the last completion. Runs are interleaved (run 1 of every variant, then run 2, …) so
 * that load from elsewhere on the machine spreads over all systems alike.
 */
import type { Spread } from "../lib/report.js";
import { fmtOr, printTable, ratio, repeat, spreadOf, writeResult } from "../lib/report.js";
import { rawThroughput } from "../lib/raw-jetstream.js";
import type { EnqueueMode } from "../lib/runs.js";
import { BATCH_SIZE, endToEnd, SINGLE_IN_FLIGHT } from "../lib/runs.js";
import type { SystemName } from "../lib/systems.js";
import { systemNames } from "../lib/systems.js";

export interface ThroughputParams {
  jobs: number;
  warmup: number;
  runs: number;
  concurrency: number[];
  modes: EnqueueMode[];
}

export const throughputDefaults = {
  full: { jobs: 50_000, warmup: 2_000, runs: 3, concurrency: [1, 10, 50], modes: ["single", "batch"] },
  quick: { jobs: 3_000, warmup: 300, runs: 1, concurrency: [1, 10, 50], modes: ["single", "batch"] },
} satisfies Record<string, ThroughputParams>;

export interface ThroughputRow {
  system: SystemName | "raw JetStream";
  enqueue: EnqueueMode | "publish";
  concurrency: number | null;
  jobsPerSecond: Spread | undefined;
  failures: string[];
}

export async function runThroughput(p: ThroughputParams): Promise<ThroughputRow[]> {
  const variants: Array<{ key: string; row: ThroughputRow; run: () => Promise<number> }> = [];
  for (const system of systemNames) {
    for (const mode of p.modes) {
      for (const c of p.concurrency) {
        variants.push({
          key: `${system} ${mode} c=${c}`,
          row: { system, enqueue: mode, concurrency: c, jobsPerSecond: undefined, failures: [] },
          run: () => endToEnd(system, mode, c, p.jobs, p.warmup),
        });
      }
    }
  }
  variants.push({
    key: "raw JetStream",
    row: {
      system: "raw JetStream",
      enqueue: "publish",
      concurrency: null,
      jobsPerSecond: undefined,
      failures: [],
    },
    run: () => rawThroughput(p.jobs, p.warmup),
  });
  const values = new Map<string, number[]>(variants.map((v) => [v.key, []]));
  for (let r = 0; r < p.runs; r++) {
    for (const v of variants) {
      const t = Date.now();
      const { values: got, failures } = await repeat(v.key, 1, () => v.run());
      values.get(v.key)!.push(...got);
      v.row.failures.push(...failures);
      if (got[0] !== undefined) {
        process.stderr.write(
          `  run ${r + 1}: ${v.key}: ${Math.round(got[0])} jobs/s (${((Date.now() - t) / 1000).toFixed(1)} s)\n`,
        );
      }
    }
  }
  for (const v of variants) v.row.jobsPerSecond = spreadOf(values.get(v.key)!);
  return variants.map((v) => v.row);
}

/** The jetjob/BullMQ and jetjob/raw JetStream ratios of a jetjob row (medians). */
export function throughputRatios(
  rows: ThroughputRow[],
  row: ThroughputRow,
): { vsBullmq: string; vsRaw: string } {
  if (row.system !== "jetjob") return { vsBullmq: "", vsRaw: "" };
  const bull = rows.find(
    (r) => r.system === "BullMQ" && r.enqueue === row.enqueue && r.concurrency === row.concurrency,
  );
  const raw = rows.find((r) => r.system === "raw JetStream");
  return {
    vsBullmq: ratio(row.jobsPerSecond, bull?.jobsPerSecond),
    vsRaw: ratio(row.jobsPerSecond, raw?.jobsPerSecond),
  };
}

export function enqueueLabel(mode: ThroughputRow["enqueue"]): string {
  if (mode === "single") return `single, ${SINGLE_IN_FLIGHT} in flight`;
  if (mode === "batch") return `batch of ${BATCH_SIZE}`;
  return "publish, ≤2000 PubAcks out";
}

export async function throughputScenario(quick: boolean): Promise<void> {
  const params = quick ? throughputDefaults.quick : throughputDefaults.full;
  process.stderr.write(
    `throughput: ${params.jobs} jobs after ${params.warmup} warm-up, ${params.runs} run(s) per variant\n`,
  );
  const rows = await runThroughput(params);
  printTable(
    `Throughput, enqueue → completed end to end (${params.jobs} no-op jobs, producer and worker in one process; jobs/s, median (min–max) of ${params.runs})`,
    ["system", "enqueue", "concurrency", "jobs/s", "jetjob/BullMQ", "jetjob/raw JetStream"],
    rows.map((r) => {
      const { vsBullmq, vsRaw } = throughputRatios(rows, r);
      return [
        r.system,
        enqueueLabel(r.enqueue),
        r.concurrency === null ? "–" : String(r.concurrency),
        fmtOr(r.jobsPerSecond),
        vsBullmq,
        vsRaw,
      ];
    }),
  );
  const path = writeResult("throughput", { params, rows });
  process.stdout.write(`\nwritten: ${path}\n`);
}
