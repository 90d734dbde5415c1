/**
 * HTTP: the OJS HTTP door (what every OJS client uses) under four loads, with the same loads through
 * jetjob's own SDK, BullMQ and raw JetStream beside it for scale, all in one run:
 *
 * - push: single `POST /ojs/v1/jobs` with 50 requests in flight (SDK `enqueue`, BullMQ `add`, raw
 *   `js.publish`, 50 in flight each); jobs/s.
 * - batch push: `POST /ojs/v1/jobs/batch` of 100 jobs, one request in flight (`enqueueMany`,
 *   `addBulk` of 100); jobs/s.
 * - end to end: batch pushes while 8 HTTP workers loop fetch (count 10) → one ack per job; the SDK
 *   and BullMQ run one worker at concurrency 80 (8 × 10) fed by batches of 100; raw JetStream is
 *   publish + consume + ack; timed from the first push to the last completion, jobs/s.
 * - latency: one single push every 5 ms (200/s), each call's round trip (request → reply, or call →
 *   resolved promise); p50/p95/p99 ms.
 *
 * The door is a `jetjob server` in a child process (bench/lib/http-door-server.ts) on a nats-server
 * of its own; the load generator is this process, on keep-alive connections. Every system's run
 * starts its own servers and runs the loads one after the other on separate queues (end to end
 * first, so that the pushed jobs left in the other queues do not stand in its way); runs are
 * interleaved across systems, as in the other scenarios.
 */
import { openHttpDoor } from "../lib/http-door.js";
import {
  batchRate,
  doorEndToEnd,
  JOB_TYPE,
  ojsJobs,
  pushLatency,
  pushRate,
  sdkEndToEnd,
} from "../lib/http-load.js";
import { percentile } from "../lib/progress.js";
import { openRawJetStream, rawThroughput } from "../lib/raw-jetstream.js";
import type { Spread } from "../lib/report.js";
import { attempt, fmtOr, printTable, ratio, spreadOf, writeResult } from "../lib/report.js";
import { openBullmq, openJetjob } from "../lib/systems.js";
import type { System } from "../lib/systems.js";

export interface HttpParams {
  runs: number;
  push: { jobs: number; warmup: number; inFlight: number };
  batch: { jobs: number; warmup: number; size: number };
  e2e: { jobs: number; warmup: number; workers: number; fetchCount: number; batchSize: number };
  latency: { jobs: number; warmup: number; perSecond: number };
}

export const httpDefaults = {
  full: {
    runs: 3,
    push: { jobs: 20_000, warmup: 1_000, inFlight: 50 },
    batch: { jobs: 50_000, warmup: 2_000, size: 100 },
    e2e: { jobs: 10_000, warmup: 500, workers: 8, fetchCount: 10, batchSize: 100 },
    latency: { jobs: 2_000, warmup: 200, perSecond: 200 },
  },
  quick: {
    runs: 1,
    push: { jobs: 1_000, warmup: 100, inFlight: 50 },
    batch: { jobs: 3_000, warmup: 300, size: 100 },
    e2e: { jobs: 600, warmup: 100, workers: 8, fetchCount: 10, batchSize: 100 },
    latency: { jobs: 200, warmup: 40, perSecond: 200 },
  },
} satisfies Record<string, HttpParams>;

export const httpSystems = ["jetjob HTTP door", "jetjob SDK", "BullMQ", "raw JetStream"] as const;
export type HttpSystem = (typeof httpSystems)[number];
export const httpMeasures = ["push", "batch", "e2e"] as const;
export type HttpMeasure = (typeof httpMeasures)[number];

interface Latencies {
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/** One system's run: whichever loads it has, each a rate (jobs/s) or the latency percentiles. */
interface RunResult {
  rates: Partial<Record<HttpMeasure, number | { error: string }>>;
  latency?: Latencies | { error: string };
}

export interface HttpRateRow {
  system: HttpSystem;
  measure: HttpMeasure;
  jobsPerSecond: Spread | undefined;
  failures: string[];
}

export interface HttpLatencyRow {
  system: HttpSystem;
  p50_ms: Spread | undefined;
  p95_ms: Spread | undefined;
  p99_ms: Spread | undefined;
  max_ms: Spread | undefined;
  failures: string[];
}

const latencies = (sorted: number[]): Latencies => ({
  p50: percentile(sorted, 50),
  p95: percentile(sorted, 95),
  p99: percentile(sorted, 99),
  max: sorted.at(-1)!,
});

async function runDoor(p: HttpParams): Promise<RunResult> {
  const door = await openHttpDoor();
  try {
    const pushOne = (queue: string) => (i: number) =>
      door.post("/ojs/v1/jobs", { type: JOB_TYPE, args: [i], options: { queue } });
    const intervalMs = 1000 / p.latency.perSecond;
    return {
      rates: {
        e2e: await attempt("HTTP door end to end", () => doorEndToEnd(door, "e2e", p.e2e)),
        push: await attempt("HTTP door push", () =>
          pushRate(pushOne("push"), p.push.jobs, p.push.warmup, p.push.inFlight),
        ),
        batch: await attempt("HTTP door batch push", () =>
          batchRate(
            (start, n) => door.post("/ojs/v1/jobs/batch", { jobs: ojsJobs("batch", start, n) }),
            p.batch.jobs,
            p.batch.warmup,
            p.batch.size,
          ),
        ),
      },
      latency: await attempt("HTTP door latency", async () =>
        latencies(await pushLatency(pushOne("latency"), p.latency.jobs, p.latency.warmup, intervalMs)),
      ),
    };
  } finally {
    await door.close();
  }
}

async function runSdk(sys: System, p: HttpParams): Promise<RunResult> {
  try {
    const pushOne = (queue: string) => (i: number) => sys.enqueueOne(queue, [i]);
    const label = sys.name === "jetjob" ? "jetjob SDK" : sys.name;
    const { workers, fetchCount, ...e2e } = p.e2e;
    return {
      rates: {
        e2e: await attempt(`${label} end to end`, () =>
          sdkEndToEnd(sys, "e2e", { ...e2e, concurrency: workers * fetchCount }),
        ),
        push: await attempt(`${label} push`, () =>
          pushRate(pushOne("push"), p.push.jobs, p.push.warmup, p.push.inFlight),
        ),
        batch: await attempt(`${label} batch push`, () =>
          batchRate(
            (start, n) =>
              sys.enqueueBatch(
                "batch",
                Array.from({ length: n }, (_, k) => [start + k]),
              ),
            p.batch.jobs,
            p.batch.warmup,
            p.batch.size,
          ),
        ),
      },
      latency: await attempt(`${label} latency`, async () =>
        latencies(
          await pushLatency(pushOne("latency"), p.latency.jobs, p.latency.warmup, 1000 / p.latency.perSecond),
        ),
      ),
    };
  } finally {
    await sys.close();
  }
}

async function runRaw(p: HttpParams): Promise<RunResult> {
  const e2e = await attempt("raw JetStream publish + consume + ack", () =>
    rawThroughput(p.e2e.jobs, p.e2e.warmup),
  );
  const raw = await openRawJetStream();
  try {
    const payload = new TextEncoder().encode(JSON.stringify({ type: JOB_TYPE, args: [0] }));
    const { subject: pushSubject } = await raw.stream();
    const push = await attempt("raw JetStream publish", () =>
      pushRate(() => raw.publish(pushSubject, payload), p.push.jobs, p.push.warmup, p.push.inFlight),
    );
    const { subject: latencySubject } = await raw.stream();
    const latency = await attempt("raw JetStream publish latency", async () =>
      latencies(
        await pushLatency(
          () => raw.publish(latencySubject, payload),
          p.latency.jobs,
          p.latency.warmup,
          1000 / p.latency.perSecond,
        ),
      ),
    );
    return { rates: { e2e, push }, latency };
  } finally {
    await raw.close();
  }
}

const runners: Record<HttpSystem, (p: HttpParams) => Promise<RunResult>> = {
  "jetjob HTTP door": runDoor,
  "jetjob SDK": async (p) => runSdk(await openJetjob(), p),
  BullMQ: async (p) => runSdk(await openBullmq(), p),
  "raw JetStream": runRaw,
};

export async function runHttp(p: HttpParams): Promise<{ rates: HttpRateRow[]; latency: HttpLatencyRow[] }> {
  const results = new Map<HttpSystem, RunResult[]>(httpSystems.map((s) => [s, []]));
  const setupFailures = new Map<HttpSystem, string[]>(httpSystems.map((s) => [s, []]));
  for (let r = 0; r < p.runs; r++) {
    for (const system of httpSystems) {
      const t = Date.now();
      const got = await attempt(system, () => runners[system](p));
      if ("error" in got) {
        setupFailures.get(system)!.push(got.error);
        continue;
      }
      results.get(system)!.push(got);
      const shown = httpMeasures
        .filter((m) => got.rates[m] !== undefined)
        .map((m) => {
          const v = got.rates[m]!;
          return `${m} ${typeof v === "number" ? Math.round(v) : "failed"}/s`;
        });
      const l = got.latency;
      if (l && !("error" in l)) shown.push(`latency p50/p99 ${l.p50.toFixed(2)}/${l.p99.toFixed(2)} ms`);
      process.stderr.write(
        `  run ${r + 1}: ${system}: ${shown.join(", ")} (${((Date.now() - t) / 1000).toFixed(1)} s)\n`,
      );
    }
  }
  const rates: HttpRateRow[] = [];
  const latency: HttpLatencyRow[] = [];
  for (const system of httpSystems) {
    const runs = results.get(system)!;
    const failed = setupFailures.get(system)!;
    for (const measure of httpMeasures) {
      const got = runs.map((x) => x.rates[measure]).filter((v) => v !== undefined);
      if (got.length === 0 && failed.length === 0) continue; // not measured for this system
      rates.push({
        system,
        measure,
        jobsPerSecond: spreadOf(got.filter((v) => typeof v === "number")),
        failures: [...failed, ...got.flatMap((v) => (typeof v === "number" ? [] : [v.error]))],
      });
    }
    const ls = runs.map((x) => x.latency).filter((v) => v !== undefined);
    const ok = ls.filter((v): v is Latencies => !("error" in v));
    latency.push({
      system,
      p50_ms: spreadOf(ok.map((m) => m.p50)),
      p95_ms: spreadOf(ok.map((m) => m.p95)),
      p99_ms: spreadOf(ok.map((m) => m.p99)),
      max_ms: spreadOf(ok.map((m) => m.max)),
      failures: [...failed, ...ls.flatMap((v) => ("error" in v ? [v.error] : []))],
    });
  }
  return { rates, latency };
}

function measureLabel(m: HttpMeasure, p: HttpParams): string {
  if (m === "push") return `push, ${p.push.inFlight} in flight (${p.push.jobs} jobs)`;
  if (m === "batch") return `batch push of ${p.batch.size} (${p.batch.jobs} jobs)`;
  return `end to end, ${p.e2e.workers} workers × fetch ${p.e2e.fetchCount} → ack (${p.e2e.jobs} jobs)`;
}

export async function httpScenario(quick: boolean): Promise<void> {
  const params = quick ? httpDefaults.quick : httpDefaults.full;
  process.stderr.write(
    `http: OJS HTTP door beside the SDK, BullMQ and raw JetStream, ${params.runs} run(s)\n`,
  );
  const { rates, latency } = await runHttp(params);
  const find = (system: HttpSystem, m: HttpMeasure) =>
    rates.find((r) => r.system === system && r.measure === m)?.jobsPerSecond;
  const cell = (system: HttpSystem, m: HttpMeasure) =>
    rates.some((r) => r.system === system && r.measure === m) ? fmtOr(find(system, m)) : "–";
  printTable(
    `OJS HTTP door beside jetjob's SDK, BullMQ and raw JetStream (jobs/s, median (min–max) of ${params.runs}; SDK and BullMQ end to end: one worker at concurrency ${params.e2e.workers * params.e2e.fetchCount}; raw end to end: publish + consume + ack)`,
    ["load", ...httpSystems, "door/SDK", "door/BullMQ"],
    httpMeasures.map((m) => [
      measureLabel(m, params),
      ...httpSystems.map((s) => cell(s, m)),
      ratio(find("jetjob HTTP door", m), find("jetjob SDK", m)),
      ratio(find("jetjob HTTP door", m), find("BullMQ", m)),
    ]),
  );
  printTable(
    `Single push round trip at ${params.latency.perSecond}/s (${params.latency.jobs} pushes; ms, median (min–max) of ${params.runs})`,
    ["system", "p50", "p95", "p99"],
    latency.map((r) => [r.system, fmtOr(r.p50_ms, 2), fmtOr(r.p95_ms, 2), fmtOr(r.p99_ms, 2)]),
  );
  const path = writeResult("http", { params, rates, latency });
  process.stdout.write(`\nwritten: ${path}\n`);
}
