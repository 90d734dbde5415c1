/**
 * Soak: does storage stay bounded however long jetjob runs? N no-op jobs go through the system at a
 * steady pace (`ratePerSecond`, in batches of 500 through the NATS client, at most `maxOutstanding`
 * unfinished at a time, one NATS-direct worker at concurrency 50), with a retention short against the
 * run's length, so that housekeeping has to keep up while it runs: completed jobs are kept `completedMs`, removed segments' journals `journalGraceMs`,
 * events `eventsMaxAgeMs`. Every 5% of the jobs it records the bytes and messages of every stream and
 * bucket, the nats-server's RSS and this process's RSS and live heap (after a full collection); once
 * more after the last job finished plus the retention (settled). Levelling off means: the figures at the end are about those in the middle,
 * not twice them.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import v8 from "node:v8";
import vm from "node:vm";

import { createClient } from "../../src/client/index.js";
import { silentLogger } from "../../src/core/logger.js";
import { connectNats } from "../../src/nats/connect.js";
import { startNatsServer } from "../../src/natsd/index.js";
import type { Engine } from "../../src/store/engine.js";
import { createEngine } from "../../src/store/engine.js";
import { createWorker } from "../../src/worker/index.js";
import { natsServerPid, statusMiB } from "../lib/memory.js";
import { printTable, writeResult } from "../lib/report.js";

export interface SoakParams {
  jobs: number;
  concurrency: number;
  batch: number;
  /** Jobs enqueued per second (a steady load, not a burst). */
  ratePerSecond: number;
  maxOutstanding: number;
  completedMs: number;
  journalGraceMs: number;
  eventsMaxAgeMs: number;
  /** Run the housekeeper (false: the contrast, storage only grows). @defaultValue true */
  housekeeping?: boolean;
}

export const soakDefaults = {
  full: {
    jobs: 1_000_000,
    concurrency: 50,
    batch: 500,
    ratePerSecond: 5000,
    maxOutstanding: 20_000,
    completedMs: 10_000,
    journalGraceMs: 15_000,
    eventsMaxAgeMs: 60_000,
  },
  quick: {
    jobs: 50_000,
    concurrency: 50,
    batch: 500,
    ratePerSecond: 5000,
    maxOutstanding: 10_000,
    completedMs: 2_000,
    journalGraceMs: 3_000,
    eventsMaxAgeMs: 10_000,
  },
} satisfies Record<string, SoakParams>;

export interface SoakSample {
  /** Share of the jobs completed (1.01: settled, after the last job plus the retention). */
  at: string;
  completed: number;
  seconds: number;
  bytes: number;
  messages: number;
  /** Bytes per stream or bucket (only those with any). */
  perStream: Record<string, number>;
  natsRssMiB: number;
  nodeRssMiB: number;
  /** V8 heap in use (after a full collection when node runs with --expose-gc). */
  nodeHeapMiB: number;
  removedJobs: number;
}

export interface SoakResult {
  params: SoakParams;
  jobsPerSecond: number;
  samples: SoakSample[];
}

async function sample(
  engine: Engine,
  at: string,
  completed: number,
  t0: number,
  natsPid: number | undefined,
): Promise<SoakSample> {
  const perStream: Record<string, number> = {};
  let bytes = 0;
  let messages = 0;
  for await (const s of engine.ctx.jsm.streams.list()) {
    bytes += s.state.bytes;
    messages += s.state.messages;
    if (s.state.bytes > 0) perStream[s.config.name] = s.state.bytes;
  }
  return {
    at,
    completed,
    seconds: (Date.now() - t0) / 1000,
    bytes,
    messages,
    perStream,
    natsRssMiB: natsPid === undefined ? Number.NaN : statusMiB(natsPid, "VmRSS"),
    nodeHeapMiB: heapMiB(),
    nodeRssMiB: statusMiB("self", "VmRSS"),
    removedJobs: engine.housekeeper?.stats.removedJobs ?? 0,
  };
}

export async function runSoak(p: SoakParams): Promise<SoakResult> {
  const dir = mkdtempSync(join(tmpdir(), "jetjob-soak-"));
  const server = await startNatsServer({ storeDir: dir, monitorPort: -1 });
  const nc = await connectNats({ servers: server.url, name: "soak" });
  const engine = await createEngine(nc, {
    retention: { completedMs: p.completedMs },
    topology: { eventsMaxAgeMs: p.eventsMaxAgeMs },
    housekeeping:
      p.housekeeping === false
        ? false
        : { walkIntervalMs: 1000, tickMs: 250, journalGraceMs: p.journalGraceMs },
    onError: (err) => process.stderr.write(`  soak: background error: ${String(err)}\n`),
  });
  const client = createClient({ nats: server.url });
  const natsPid = natsServerPid(server);
  let completed = 0;
  const worker = createWorker({
    nats: server.url,
    queues: ["soak"],
    concurrency: p.concurrency,
    handleSignals: false,
    logger: silentLogger,
    handlers: { noop: () => void completed++ },
  });
  const samples: SoakSample[] = [];
  try {
    await worker.ready;
    const t0 = Date.now();
    samples.push(await sample(engine, "0%", 0, t0, natsPid));
    const step = p.jobs / 20;
    let nextSample = step;
    let sampling: Promise<void> = Promise.resolve();
    const watch = setInterval(() => {
      if (completed < nextSample) return;
      const pct = `${Math.round((nextSample / p.jobs) * 100)}%`;
      nextSample += step;
      sampling = sampling.then(async () => {
        const s = await sample(engine, pct, completed, t0, natsPid);
        samples.push(s);
        process.stderr.write(
          `  soak ${pct}: ${(s.bytes / 2 ** 20).toFixed(1)} MiB in ${s.messages} messages, nats ${s.natsRssMiB.toFixed(0)} MiB, node ${s.nodeRssMiB.toFixed(0)} MiB (heap ${s.nodeHeapMiB.toFixed(0)}), removed ${s.removedJobs}\n`,
        );
      });
    }, 100);
    for (let i = 0; i < p.jobs; i += p.batch) {
      const due = t0 + (i / p.ratePerSecond) * 1000;
      if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
      while (i - completed > p.maxOutstanding) await new Promise((r) => setTimeout(r, 5));
      const n = Math.min(p.batch, p.jobs - i);
      await client.enqueueMany(
        Array.from({ length: n }, (_, k) => ({ type: "noop", args: [i + k], options: { queue: "soak" } })),
      );
    }
    while (completed < p.jobs) await new Promise((r) => setTimeout(r, 20));
    const seconds = (Date.now() - t0) / 1000;
    clearInterval(watch);
    await sampling;
    if (samples.at(-1)?.at !== "100%") samples.push(await sample(engine, "100%", completed, t0, natsPid));
    // Settled: the last jobs' retention, their journals' grace and a walk or two later.
    const settleMs = p.completedMs + p.journalGraceMs + 5000;
    await new Promise((r) => setTimeout(r, settleMs));
    samples.push(await sample(engine, "settled", completed, t0, natsPid));
    return { params: p, jobsPerSecond: p.jobs / seconds, samples };
  } finally {
    await worker.close();
    await client.close();
    await engine.close();
    await nc.close();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const mib = (b: number) => (b / 2 ** 20).toFixed(1);

/**
 * A full collection, so the figures show what is live rather than how lazily V8 collects: without
 * it, this process's RSS climbs towards V8's heap limit under a steady allocation rate (measured:
 * 118 → 943 MiB over 1,000,000 jobs) while the live heap stays flat.
 */
const fullGc: () => void = (() => {
  v8.setFlagsFromString("--expose-gc");
  return vm.runInNewContext("gc") as () => void;
})();

function heapMiB(): number {
  fullGc();
  return process.memoryUsage().heapUsed / 2 ** 20;
}

export async function soakScenario(quick: boolean): Promise<void> {
  const params = quick ? soakDefaults.quick : soakDefaults.full;
  process.stderr.write(
    `soak: ${params.jobs} jobs, completed kept ${params.completedMs} ms, journals ${params.journalGraceMs} ms, events ${params.eventsMaxAgeMs} ms\n`,
  );
  const r = await runSoak(params);
  const pick = ["0%", "10%", "25%", "50%", "75%", "100%", "settled"];
  printTable(
    `Soak: ${params.jobs} no-op jobs at ${r.jobsPerSecond.toFixed(0)} jobs/s (paced), completed jobs kept ${params.completedMs / 1000} s, journals ${params.journalGraceMs / 1000} s more, events ${params.eventsMaxAgeMs / 1000} s`,
    [
      "point",
      "jobs done",
      "s",
      "stored MiB",
      "messages",
      "queue+journal MiB",
      "events MiB",
      "nats RSS MiB",
      "node RSS MiB",
      "node heap MiB",
    ],
    r.samples
      .filter((s) => pick.includes(s.at))
      .map((s) => [
        s.at,
        String(s.completed),
        s.seconds.toFixed(0),
        mib(s.bytes),
        String(s.messages),
        mib((s.perStream.JJ_QUEUE ?? 0) + (s.perStream.JJ_JOURNAL ?? 0)),
        mib(s.perStream.JJ_EVENTS ?? 0),
        s.natsRssMiB.toFixed(0),
        s.nodeRssMiB.toFixed(0),
        s.nodeHeapMiB.toFixed(0),
      ]),
  );
  const path = writeResult("soak", { ...r });
  process.stdout.write(`\nwritten: ${path}\n`);
}
