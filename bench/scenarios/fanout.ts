/**
 * Fan-out: one targeted job to 200 simulated agents (`--target all`), timed from the create call to
 * the moment the controller holds all 200 results (each stored on the job's timeline by its agent)
 * and has finished the job. The agents run in a second process (one connection), the controller in
 * this one, both against one local nats-server. Reports p50/p99 per run and the median over runs.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import { createController } from "../../src/fleet/controller.js";
import { getFleetJob } from "../../src/fleet/jobs.js";
import { connectNats } from "../../src/nats/connect.js";
import { startNatsServer } from "../../src/natsd/index.js";
import { createStoreContext } from "../../src/store/infra/context.js";
import type { Spread } from "../lib/report.js";
import { fmt, printTable, spread, writeResult } from "../lib/report.js";

export interface FanoutParams {
  agents: number;
  jobsPerRun: number;
  runs: number;
}

export const fanoutDefaults = {
  full: { agents: 200, jobsPerRun: 30, runs: 3 },
  quick: { agents: 200, jobsPerRun: 5, runs: 1 },
} satisfies Record<string, FanoutParams>;

const simScript = fileURLToPath(new URL("../fixtures/sim-agents.ts", import.meta.url));

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

export async function runFanout(p: FanoutParams) {
  const dir = mkdtempSync(join(tmpdir(), "jetjob-bench-"));
  const server = await startNatsServer({ storeDir: dir, monitorPort: -1 });
  const nc = await connectNats({ servers: server.url, name: "bench-controller" });
  const ctx = await createStoreContext(nc);
  const ctl = await createController(ctx);
  const sim = spawn(process.execPath, ["--import", "tsx", simScript, server.url, String(p.agents)], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  try {
    await new Promise<void>((resolve, reject) => {
      sim.stdout.on("data", (d: Buffer) => d.toString().includes("ready") && resolve());
      sim.once("exit", (code) => reject(new Error(`simulated agents exited with ${code}`)));
    });
    const t0 = Date.now();
    while (ctl.resolve("all", "bench.noop").dispatch.length < p.agents) {
      if (Date.now() - t0 > 30_000) throw new Error("simulated agents did not all register");
      await new Promise((r) => setTimeout(r, 20));
    }
    // One warm-up job (consumer and connection set-up), not counted.
    await oneJob(ctl, p.agents);
    const runs: Array<{ p50: number; p99: number; firstResult: number; all: number[] }> = [];
    for (let r = 0; r < p.runs; r++) {
      const all: number[] = [];
      const first: number[] = [];
      for (let j = 0; j < p.jobsPerRun; j++) {
        const m = await oneJob(ctl, p.agents);
        all.push(m.allMs);
        first.push(m.firstMs);
      }
      const sorted = [...all].sort((a, b) => a - b);
      const firstSorted = [...first].sort((a, b) => a - b);
      runs.push({
        p50: percentile(sorted, 50),
        p99: percentile(sorted, 99),
        firstResult: percentile(firstSorted, 50),
        all,
      });
      process.stderr.write(
        `  run ${r + 1}: p50 ${runs.at(-1)!.p50.toFixed(1)} ms, p99 ${runs.at(-1)!.p99.toFixed(1)} ms\n`,
      );
    }
    return runs;
  } finally {
    sim.kill("SIGTERM");
    await new Promise((r) => sim.once("exit", r));
    await ctl.close();
    ctx.close();
    await nc.close();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function oneJob(ctl: Awaited<ReturnType<typeof createController>>, agents: number) {
  const t0 = performance.now();
  const rec = await ctl.create({ op: "bench.noop", target: "all", timeoutMs: 30_000 });
  const run = ctl.run(rec.id);
  let firstMs = Number.NaN;
  const poll = setInterval(() => {
    if (Number.isNaN(firstMs) && run?.hosts().some((h) => h.state === "completed"))
      firstMs = performance.now() - t0;
  }, 1);
  await run?.ended;
  const allMs = performance.now() - t0;
  clearInterval(poll);
  const job = await getFleetJob(ctl, rec.id, { timeline: false });
  if (job.status !== "completed" || job.counts.completed !== agents) {
    throw new Error(
      `fan-out job ${rec.id} ended ${job.status} with ${job.counts.completed}/${agents} results`,
    );
  }
  return { allMs, firstMs: Number.isNaN(firstMs) ? allMs : firstMs };
}

export async function fanoutScenario(quick: boolean): Promise<void> {
  const params = quick ? fanoutDefaults.quick : fanoutDefaults.full;
  process.stderr.write(
    `fan-out: ${params.agents} simulated agents, ${params.runs} run(s) of ${params.jobsPerRun} jobs\n`,
  );
  const runs = await runFanout(params);
  const p50: Spread = spread(runs.map((r) => r.p50));
  const p99: Spread = spread(runs.map((r) => r.p99));
  const first: Spread = spread(runs.map((r) => r.firstResult));
  printTable(
    `Fan-out to ${params.agents} agents: create → all ${params.agents} results stored and the job finished (ms; median (min–max) of ${params.runs} run(s) of ${params.jobsPerRun} jobs)`,
    ["figure", "ms", "goal"],
    [
      ["p50 time to all results", fmt(p50, 1), "< 150"],
      ["p99 time to all results", fmt(p99, 1), ""],
      ["p50 time to first result", fmt(first, 1), ""],
    ],
  );
  const path = writeResult("fanout", { params, p50_ms: p50, p99_ms: p99, first_result_p50_ms: first, runs });
  process.stdout.write(`\nwritten: ${path}\n`);
}
