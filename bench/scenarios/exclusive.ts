/**
 * Exclusive keys: the throughput cost against plain jobs. N no-op jobs enqueued in batches through the
 * NATS client and run by one NATS-direct worker (concurrency 50), plain and spread over K exclusive
 * keys. With keys, at most K jobs can run at once and each key hands over to its next job in turn, so
 * the figure is bounded by K / (hand-over time); the table shows that cost as measured.
 *
 * Hand-over: for each key, from the end of one job's handler (its outcome is written after it) to the
 * start of the handler of the key's next job, counted from when that next job was enqueued if it came
 * later; p50 and p99 per run. With fewer keys than worker slots (10 keys) that is the hand-over alone;
 * with more keys than slots the next job also waits for a free slot behind other keys' jobs.
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
  /** Set for the per-key lines' runs (the default, the sequencer, has none). */
  mode?: Mode;
  jobsPerSecond: Spread;
  hold?: { ms: Spread };
  /** Hand-over of a key to its next job, ms: per-run p50 and p99 (see the module header). */
  handoverMs?: { p50: Spread; p99: Spread };
}

interface RunResult {
  jobsPerSecond: number;
  handoverMs: number[];
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
}

/**
 * How exclusive keys are handed on: the scheduler leader's sequencer (store/features/exclusive-sequencer.ts,
 * the default), or per-key lines and records (exclusive.ts), which every process of a deployment
 * chooses with `JETJOB_EXCLUSIVE_SEQUENCER=0` when it opens its store.
 */
type Mode = "lines" | "sequencer";

interface ModeSystem {
  url: string;
  client: QueueClient;
  close(): Promise<void>;
}

/** Runs `fn` with this process's store contexts opened in `mode`. */
async function inMode<T>(mode: Mode, fn: () => Promise<T>): Promise<T> {
  const before = process.env.JETJOB_EXCLUSIVE_SEQUENCER;
  process.env.JETJOB_EXCLUSIVE_SEQUENCER = mode === "lines" ? "0" : "1";
  try {
    return await fn();
  } finally {
    if (before === undefined) delete process.env.JETJOB_EXCLUSIVE_SEQUENCER;
    else process.env.JETJOB_EXCLUSIVE_SEQUENCER = before;
  }
}

/** A nats-server, an engine (the scheduler leader) and a client of their own for one mode. */
async function openMode(mode: Mode): Promise<ModeSystem> {
  return inMode(mode, async () => {
    const dir = mkdtempSync(join(tmpdir(), "jetjob-bench-"));
    const server = await startNatsServer({ storeDir: dir, monitorPort: -1 });
    const nc = await connectNats({ servers: server.url, name: "bench" });
    const engine = await createEngine(nc);
    const client = createClient({ nats: server.url });
    return {
      url: server.url,
      client,
      async close() {
        await client.close();
        await engine.close();
        await nc.close();
        await server.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  });
}

export async function runExclusive(p: ExclusiveParams): Promise<Variant[]> {
  const systems = new Map<Mode, ModeSystem>();
  const variants: Variant[] = [];
  let runNo = 0;
  try {
    for (const mode of MODES) systems.set(mode, await openMode(mode));
    for (const keys of [undefined, ...p.keyCounts]) {
      // Plain jobs do not depend on the mode; with keys, the modes' runs alternate.
      const modes: Mode[] = keys === undefined ? ["sequencer"] : MODES;
      const runs = new Map<Mode, { rates: number[]; p50s: number[]; p99s: number[] }>(
        modes.map((m) => [m, { rates: [], p50s: [], p99s: [] }]),
      );
      for (let r = 0; r < p.runs; r++) {
        for (const mode of modes) {
          const sys = systems.get(mode)!;
          const got = runs.get(mode)!;
          const queue = `bx${runNo++}`;
          const run = await inMode(mode, () => oneRun(sys.url, sys.client, queue, p, keys));
          got.rates.push(run.jobsPerSecond);
          const sorted = run.handoverMs.sort((a, b) => a - b);
          if (sorted.length > 0) {
            got.p50s.push(quantile(sorted, 0.5));
            got.p99s.push(quantile(sorted, 0.99));
          }
        }
      }
      for (const mode of modes) {
        const got = runs.get(mode)!;
        const name =
          keys === undefined
            ? "plain jobs"
            : `exclusive, ${keys} keys${mode === "lines" ? ", per-key lines" : ""}`;
        const v: Variant = { name, keys, jobsPerSecond: spread(got.rates) };
        if (mode === "lines") v.mode = mode;
        if (got.p50s.length > 0) v.handoverMs = { p50: spread(got.p50s), p99: spread(got.p99s) };
        variants.push(v);
        const ho = v.handoverMs
          ? `, hand-over p50 ${fmt(v.handoverMs.p50, 2)} ms, p99 ${fmt(v.handoverMs.p99, 2)} ms`
          : "";
        process.stderr.write(`  ${v.name}: ${fmt(v.jobsPerSecond)} jobs/s${ho}\n`);
      }
    }
  } finally {
    for (const sys of systems.values()) await sys.close();
  }
  return variants;
}

const MODES: Mode[] = ["sequencer", "lines"];

async function oneRun(
  url: string,
  client: QueueClient,
  queue: string,
  p: ExclusiveParams,
  keys: number | undefined,
): Promise<RunResult> {
  let done = 0;
  // Per key: when its last job's handler ran; per batch: when its enqueue returned.
  const lastRun = new Map<number, number>();
  const enqueuedAt: number[] = [];
  const handoverMs: number[] = [];
  const batch = 500;
  let resolveAll!: () => void;
  const all = new Promise<void>((r) => (resolveAll = r));
  const worker = createWorker({
    nats: url,
    queues: [queue],
    concurrency: p.concurrency,
    handleSignals: false,
    logger: silentLogger,
    handlers: {
      noop: (job) => {
        if (keys !== undefined) {
          const now = performance.now();
          const n = (job.args as number[])[0]!;
          const k = n % keys;
          const prev = lastRun.get(k);
          // A job that started before its batch's enqueue returned is not counted (when it became
          // ready is not known).
          const ready = enqueuedAt[Math.floor(n / batch)];
          if (prev !== undefined && ready !== undefined) handoverMs.push(now - Math.max(prev, ready));
          lastRun.set(k, now);
        }
        if (++done === p.jobs) resolveAll();
      },
    },
  });
  await worker.ready;
  const t0 = performance.now();
  for (let i = 0; i < p.jobs; i += batch) {
    const n = Math.min(batch, p.jobs - i);
    await client.enqueueMany(
      Array.from({ length: n }, (_, k) => ({
        type: "noop",
        args: [i + k],
        options: keys === undefined ? { queue } : { queue, exclusiveKey: `key-${(i + k) % keys}` },
      })),
    );
    enqueuedAt[i / batch] = performance.now();
  }
  await all;
  const seconds = (performance.now() - t0) / 1000;
  await worker.close();
  return { jobsPerSecond: p.jobs / seconds, handoverMs };
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
    ["variant", "jobs/s", "vs plain", "hand-over p50 ms", "hand-over p99 ms"],
    variants.map((v) => [
      v.name,
      fmt(v.jobsPerSecond),
      `${((v.jobsPerSecond.median / plain) * 100).toFixed(1)}%`,
      v.handoverMs ? fmt(v.handoverMs.p50, 2) : "",
      v.handoverMs ? fmt(v.handoverMs.p99, 2) : "",
    ]),
  );
  const path = writeResult("exclusive", { params, variants });
  process.stdout.write(`\nwritten: ${path}\n`);
}
