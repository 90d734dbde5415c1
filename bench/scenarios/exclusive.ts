/**
 * Exclusive keys: the throughput cost against plain jobs. N no-op jobs enqueued in batches through the
 * NATS client and run by one NATS-direct worker (concurrency 50), plain and spread over K exclusive
 * keys. With keys, at most K jobs can run at once and each key hands over to its next job in turn, so
 * the figure is bounded by K / (hand-over time); the table shows that cost as measured.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import type { QueueClient } from "../../src/client/index.js";
import { createClient } from "../../src/client/index.js";
import { silentLogger } from "../../src/core/logger.js";
import { connectNats } from "../../src/nats/connect.js";
import { startNatsServer } from "../../src/natsd/index.js";
import { createEngine } from "../../src/store/engine.js";
import { createWorker } from "../../src/worker/index.js";
import type { Spread } from "../lib/report.js";
import { fmt, printTable, spread, writeResult } from "../lib/report.js";

export interface ExclusiveParams {
  jobs: number;
  runs: number;
  concurrency: number;
  keyCounts: number[];
}

export const exclusiveDefaults = {
  full: { jobs: 10_000, runs: 3, concurrency: 50, keyCounts: [10, 100, 1000] },
  quick: { jobs: 1000, runs: 1, concurrency: 50, keyCounts: [10, 100] },
} satisfies Record<string, ExclusiveParams>;

interface Variant {
  name: string;
  keys: number | undefined;
  jobsPerSecond: Spread;
  hold?: { ms: Spread };
}

export async function runExclusive(p: ExclusiveParams): Promise<Variant[]> {
  const dir = mkdtempSync(join(tmpdir(), "jetjob-bench-"));
  const server = await startNatsServer({ storeDir: dir, monitorPort: -1 });
  const nc = await connectNats({ servers: server.url, name: "bench" });
  const engine = await createEngine(nc);
  const client = createClient({ nats: server.url });
  const variants: Variant[] = [];
  let runNo = 0;
  try {
    for (const keys of [undefined, ...p.keyCounts]) {
      const rates: number[] = [];
      for (let r = 0; r < p.runs; r++) {
        const queue = `bx${runNo++}`;
        rates.push(await oneRun(server.url, client, queue, p, keys));
      }
      variants.push({
        name: keys === undefined ? "plain jobs" : `exclusive, ${keys} keys`,
        keys,
        jobsPerSecond: spread(rates),
      });
      process.stderr.write(`  ${variants.at(-1)!.name}: ${fmt(variants.at(-1)!.jobsPerSecond)} jobs/s\n`);
    }
  } finally {
    await client.close();
    await engine.close();
    await nc.close();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return variants;
}

async function oneRun(
  url: string,
  client: QueueClient,
  queue: string,
  p: ExclusiveParams,
  keys: number | undefined,
): Promise<number> {
  let done = 0;
  let resolveAll!: () => void;
  const all = new Promise<void>((r) => (resolveAll = r));
  const worker = createWorker({
    nats: url,
    queues: [queue],
    concurrency: p.concurrency,
    handleSignals: false,
    logger: silentLogger,
    handlers: {
      noop: () => {
        if (++done === p.jobs) resolveAll();
      },
    },
  });
  await worker.ready;
  const t0 = performance.now();
  const batch = 500;
  for (let i = 0; i < p.jobs; i += batch) {
    const n = Math.min(batch, p.jobs - i);
    await client.enqueueMany(
      Array.from({ length: n }, (_, k) => ({
        type: "noop",
        args: [i + k],
        options: keys === undefined ? { queue } : { queue, exclusiveKey: `key-${(i + k) % keys}` },
      })),
    );
  }
  await all;
  const seconds = (performance.now() - t0) / 1000;
  await worker.close();
  return p.jobs / seconds;
}

export async function exclusiveScenario(quick: boolean): Promise<void> {
  const params = quick ? exclusiveDefaults.quick : exclusiveDefaults.full;
  process.stderr.write(
    `exclusive keys: ${params.jobs} jobs, ${params.runs} run(s) each, worker concurrency ${params.concurrency}\n`,
  );
  const variants = await runExclusive(params);
  const plain = variants[0]!.jobsPerSecond.median;
  printTable(
    `Exclusive keys vs plain jobs (${params.jobs} no-op jobs, enqueue in batches of 500 + run, concurrency ${params.concurrency}; median (min–max) of ${params.runs})`,
    ["variant", "jobs/s", "vs plain"],
    variants.map((v) => [
      v.name,
      fmt(v.jobsPerSecond),
      `${((v.jobsPerSecond.median / plain) * 100).toFixed(1)}%`,
    ]),
  );
  const path = writeResult("exclusive", { params, variants });
  process.stdout.write(`\nwritten: ${path}\n`);
}
