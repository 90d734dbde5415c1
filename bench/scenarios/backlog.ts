/**
 * Backlog: a large queue built up with no worker running, then drained. N jobs are enqueued with the
 * batch API (chunks of 1,000, one in flight); then a worker at concurrency 50 starts and works the
 * backlog off. Reported: the enqueue rate over the first and the last 10% of the jobs (does writing
 * slow down as the stream grows?), the completion rate over the first and last 10% of the drain
 * (does taking work slow down with a long queue, or speed up as it shrinks?), the server's peak RSS
 * (VmHWM of nats-server or redis-server) and the Node process's peak RSS. Each system runs in a
 * Node process of its own (bench/fixtures/backlog-run.ts), producer and worker together as in the
 * other scenarios, so that its peak RSS is its own. One run per system even in full mode: it takes
 * minutes.
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

import type { SystemName } from "../lib/systems.js";
import { openSystem } from "../lib/systems.js";
import { resetOwnPeak, rssSampler, statusMiB } from "../lib/memory.js";
import { nowMs, Progress } from "../lib/progress.js";
import { attempt, printTable, writeResult } from "../lib/report.js";
import { BATCH_SIZE } from "../lib/runs.js";

export interface BacklogParams {
  jobs: number;
  concurrency: number;
  systems: SystemName[];
}

export const backlogDefaults = {
  full: { jobs: 1_000_000, concurrency: 50, systems: ["jetjob", "BullMQ"] },
  quick: { jobs: 50_000, concurrency: 50, systems: ["jetjob", "BullMQ"] },
} satisfies Record<string, BacklogParams>;

export interface BacklogResult {
  system: SystemName;
  jobs: number;
  enqueue: { seconds: number; perSecond: number; first10PerSecond: number; last10PerSecond: number };
  drain: { seconds: number; perSecond: number; first10PerSecond: number; last10PerSecond: number };
  serverPeakRssMiB: number;
  nodePeakRssMiB: number;
  /** How the Node figure was taken: VmHWM after a reset, or sampled VmRSS every 200 ms. */
  nodePeakHow: "VmHWM" | "sampled";
}

const QUEUE = "backlog";

export async function runBacklog(system: SystemName, p: BacklogParams): Promise<BacklogResult> {
  const sys = await openSystem(system);
  const peakReset = resetOwnPeak();
  const sampler = rssSampler({ server: sys.serverPid ?? 0, node: "self" });
  const tenth = Math.floor(p.jobs / 10);
  try {
    // Enqueue with nobody taking work.
    const t0 = nowMs();
    let tFirst = Number.NaN;
    let tLast = Number.NaN;
    for (let i = 0; i < p.jobs; i += BATCH_SIZE) {
      if (i === p.jobs - tenth || (Number.isNaN(tLast) && i > p.jobs - tenth)) tLast = nowMs();
      const n = Math.min(BATCH_SIZE, p.jobs - i);
      await sys.enqueueBatch(
        QUEUE,
        Array.from({ length: n }, (_, k) => [i + k]),
      );
      if (Number.isNaN(tFirst) && i + n >= tenth) tFirst = nowMs();
      if ((i / BATCH_SIZE) % 100 === 99) process.stderr.write(`  ${system}: ${i + n} enqueued\n`);
    }
    const tEnq = nowMs();
    const enqueue = {
      seconds: (tEnq - t0) / 1000,
      perSecond: p.jobs / ((tEnq - t0) / 1000),
      first10PerSecond: tenth / ((tFirst - t0) / 1000),
      last10PerSecond: tenth / ((tEnq - tLast) / 1000),
    };
    process.stderr.write(`  ${system}: enqueued ${p.jobs} in ${enqueue.seconds.toFixed(1)} s\n`);

    // Drain.
    const done = new Progress(`${system} backlog drain`);
    let d10 = Number.NaN;
    let d90 = Number.NaN;
    const d0 = nowMs();
    const w = await sys.startWorker(QUEUE, p.concurrency, {
      onComplete: () => {
        done.add();
        if (done.count === tenth) d10 = nowMs();
        else if (done.count === p.jobs - tenth) d90 = nowMs();
        if (done.count % 100_000 === 0) process.stderr.write(`  ${system}: ${done.count} completed\n`);
      },
      onError: (e) => done.fail(e),
    });
    try {
      await done.reached(p.jobs);
      await w.settled();
    } finally {
      await w.close();
    }
    const dEnd = nowMs();
    const drain = {
      seconds: (dEnd - d0) / 1000,
      perSecond: p.jobs / ((dEnd - d0) / 1000),
      first10PerSecond: tenth / ((d10 - d0) / 1000),
      last10PerSecond: tenth / ((dEnd - d90) / 1000),
    };
    await sys.verify(p.jobs);
    const sampled = sampler.stop();
    const serverHwm = statusMiB(sys.serverPid ?? 0, "VmHWM");
    const nodeHwm = peakReset ? statusMiB("self", "VmHWM") : Number.NaN;
    return {
      system,
      jobs: p.jobs,
      enqueue,
      drain,
      serverPeakRssMiB: Number.isNaN(serverHwm) ? (sampled.server ?? Number.NaN) : serverHwm,
      nodePeakRssMiB: Number.isNaN(nodeHwm) ? (sampled.node ?? Number.NaN) : nodeHwm,
      nodePeakHow: Number.isNaN(nodeHwm) ? "sampled" : "VmHWM",
    };
  } finally {
    sampler.stop();
    await sys.close();
  }
}

const childScript = fileURLToPath(new URL("../fixtures/backlog-run.ts", import.meta.url));

function runInChild(system: SystemName, p: BacklogParams): Promise<BacklogResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", childScript, system, String(p.jobs), String(p.concurrency)],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    let out = "";
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (d: string) => (out += d));
    child.once("error", reject);
    child.once("exit", (code) => {
      const line = out.trim().split("\n").at(-1);
      if (code === 0 && line) resolve(JSON.parse(line) as BacklogResult);
      else reject(new Error(`backlog run of ${system} exited with ${code}`));
    });
  });
}

export async function backlogScenario(quick: boolean): Promise<void> {
  const params = quick ? backlogDefaults.quick : backlogDefaults.full;
  process.stderr.write(
    `backlog: ${params.jobs} jobs enqueued in batches of ${BATCH_SIZE} with no worker, then drained at concurrency ${params.concurrency}; ${params.systems.join(", ")}\n`,
  );
  const results: BacklogResult[] = [];
  const failures: Array<{ system: SystemName; error: string }> = [];
  for (const system of params.systems) {
    const r = await attempt(`${system} backlog`, () => runInChild(system, params));
    if ("error" in r) failures.push({ system, error: r.error });
    else results.push(r);
  }
  const k = (n: number) => Math.round(n).toString();
  const mib = (n: number) => `${Math.round(n)} MiB`;
  printTable(
    `Backlog of ${params.jobs} jobs (batches of ${BATCH_SIZE}, no worker), then drained at concurrency ${params.concurrency} (jobs/s; one run)`,
    ["system", "figure", "first 10%", "last 10%", "overall", "time"],
    results.flatMap((r) => [
      [
        r.system,
        "enqueue",
        k(r.enqueue.first10PerSecond),
        k(r.enqueue.last10PerSecond),
        k(r.enqueue.perSecond),
        `${r.enqueue.seconds.toFixed(1)} s`,
      ],
      [
        r.system,
        "drain (complete)",
        k(r.drain.first10PerSecond),
        k(r.drain.last10PerSecond),
        k(r.drain.perSecond),
        `${r.drain.seconds.toFixed(1)} s`,
      ],
      [r.system, "peak RSS", "", "", `server ${mib(r.serverPeakRssMiB)}, Node ${mib(r.nodePeakRssMiB)}`, ""],
    ]),
  );
  for (const f of failures) process.stdout.write(`${f.system}: FAILED: ${f.error}\n`);
  const path = writeResult("backlog", { params, batchSize: BATCH_SIZE, results, failures });
  process.stdout.write(`\nwritten: ${path}\n`);
}
