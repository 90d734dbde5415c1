/**
 * Bulk: the batch API (jetjob `enqueueMany`, BullMQ `addBulk`) in chunks of 1,000, one chunk in
 * flight. First the enqueue rate alone, with no worker running; then batch enqueue and processing
 * end to end with a worker at concurrency 50 (timed from the first enqueue to the last completion).
 * Raw JetStream publish-only (≤ 2,000 PubAcks outstanding) is shown as the ceiling of a write.
 */
import type { Spread } from "../lib/report.js";
import { fmtOr, printTable, ratio, repeat, spreadOf, writeResult } from "../lib/report.js";
import { rawPublishOnly } from "../lib/raw-jetstream.js";
import { BATCH_SIZE, endToEnd, enqueueOnly } from "../lib/runs.js";
import { systemNames } from "../lib/systems.js";

export interface BulkParams {
  jobs: number;
  warmup: number;
  runs: number;
  concurrency: number;
}

export const bulkDefaults = {
  full: { jobs: 50_000, warmup: 2_000, runs: 3, concurrency: 50 },
  quick: { jobs: 5_000, warmup: 1_000, runs: 1, concurrency: 50 },
} satisfies Record<string, BulkParams>;

export interface BulkRow {
  system: string;
  enqueueOnly: Spread | undefined;
  endToEnd: Spread | undefined;
  failures: string[];
}

export async function runBulk(p: BulkParams): Promise<BulkRow[]> {
  const rows: BulkRow[] = [];
  const values = new Map<string, { only: number[]; e2e: number[] }>();
  for (let r = 0; r < p.runs; r++) {
    for (const name of [...systemNames, "raw JetStream"] as const) {
      let row = rows.find((x) => x.system === name);
      if (!row) {
        row = { system: name, enqueueOnly: undefined, endToEnd: undefined, failures: [] };
        rows.push(row);
        values.set(name, { only: [], e2e: [] });
      }
      const v = values.get(name)!;
      const only = await repeat(`${name} enqueue only`, 1, () =>
        name === "raw JetStream" ? rawPublishOnly(p.jobs, p.warmup) : enqueueOnly(name, p.jobs, p.warmup),
      );
      v.only.push(...only.values);
      row.failures.push(...only.failures);
      if (name !== "raw JetStream") {
        const e2e = await repeat(`${name} batch enqueue + process`, 1, () =>
          endToEnd(name, "batch", p.concurrency, p.jobs, p.warmup),
        );
        v.e2e.push(...e2e.values);
        row.failures.push(...e2e.failures);
      }
      process.stderr.write(
        `  run ${r + 1}: ${name}: enqueue only ${Math.round(v.only.at(-1) ?? Number.NaN)}/s` +
          (name === "raw JetStream" ? "\n" : `, end to end ${Math.round(v.e2e.at(-1) ?? Number.NaN)}/s\n`),
      );
    }
  }
  for (const row of rows) {
    const v = values.get(row.system)!;
    row.enqueueOnly = spreadOf(v.only);
    row.endToEnd = spreadOf(v.e2e);
  }
  return rows;
}

export async function bulkScenario(quick: boolean): Promise<void> {
  const params = quick ? bulkDefaults.quick : bulkDefaults.full;
  process.stderr.write(
    `bulk: ${params.jobs} jobs in batches of ${BATCH_SIZE} after ${params.warmup} warm-up, ${params.runs} run(s)\n`,
  );
  const rows = await runBulk(params);
  const jet = rows.find((r) => r.system === "jetjob");
  const bull = rows.find((r) => r.system === "BullMQ");
  printTable(
    `Bulk enqueue, batches of ${BATCH_SIZE} (${params.jobs} jobs; jobs/s, median (min–max) of ${params.runs}); end to end with a worker at concurrency ${params.concurrency}`,
    ["system", "enqueue only", "enqueue + process"],
    [
      ...rows.map((r) => [
        r.system === "raw JetStream" ? "raw JetStream (publish, ≤2000 PubAcks out)" : r.system,
        fmtOr(r.enqueueOnly),
        r.system === "raw JetStream" ? "–" : fmtOr(r.endToEnd),
      ]),
      ["jetjob/BullMQ", ratio(jet?.enqueueOnly, bull?.enqueueOnly), ratio(jet?.endToEnd, bull?.endToEnd)],
    ],
  );
  const path = writeResult("bulk", { params, batchSize: BATCH_SIZE, rows });
  process.stdout.write(`\nwritten: ${path}\n`);
}
