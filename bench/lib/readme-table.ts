/**
 * The README's "Performance" tables (Markdown) from the latest full results in bench/results, so they
 * are regenerated with one command after a new run:
 *
 *   npm run bench:readme                        # print them (every scenario that has results)
 *   npm run bench:readme -- throughput latency  # print some of them
 *   npm run bench:readme -- --write             # replace the block between the markers in README.md
 *
 * Quick-run results (`*-quick.json`) are never used.
 */
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

import * as prettier from "prettier";

import type { Spread } from "./report.js";

const here = fileURLToPath(new URL(".", import.meta.url));
const resultsDir = join(here, "..", "results");
const readmePath = join(here, "..", "..", "README.md");
export const START_MARKER = "<!-- bench-tables:start (generated: npm run bench:readme -- --write) -->";
export const END_MARKER = "<!-- bench-tables:end -->";

interface Result {
  scenario: string;
  at: string;
  machine: Record<string, unknown>;
  params: Record<string, unknown>;
  [key: string]: unknown;
}

/** The newest full-run result of a scenario (file names start with the date). */
export function latestResult(scenario: string): { file: string; result: Result } | undefined {
  const files = readdirSync(resultsDir)
    .filter((f) => f.endsWith(`-${scenario}.json`) && /^\d{4}-\d{2}-\d{2}-/.test(f))
    .sort();
  const file = files.at(-1);
  if (!file) return undefined;
  return { file, result: JSON.parse(readFileSync(join(resultsDir, file), "utf8")) as Result };
}

const int = (n: number) => Math.round(n).toLocaleString("en-US");
const dec = (digits: number) => (n: number) => n.toFixed(digits);

/** `12,004 (10,130–18,089)`; a single run shows only its figure. */
function spreadText(s: Spread | undefined | null, f: (n: number) => string = int): string {
  if (!s) return "failed";
  return s.runs.length > 1 ? `${f(s.median)} (${f(s.min)}–${f(s.max)})` : f(s.median);
}

function ratioText(a: Spread | undefined | null, b: Spread | undefined | null): string {
  return a && b ? `${(a.median / b.median).toFixed(2)}×` : "–";
}

/** Hard-wraps a paragraph at `width` columns, like the rest of the README. */
function wrap(text: string, width = 100): string {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines.join("\n");
}

/** A Markdown table with cells padded as Prettier pads them. */
export function markdownTable(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(3, h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`;
  return [line(headers), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

function machineLine(r: Result): string {
  const m = r.machine;
  const redis = typeof m.redis === "string" ? `, redis-server ${m.redis.split(" ")[0]}` : "";
  const rev = typeof m.jetjob === "string" ? `, jetjob ${m.jetjob}` : "";
  return (
    `<sub>Run ${r.at.slice(0, 16).replace("T", " ")} UTC on ${String(m.cores)} cores (${String(m.cpu)}), ` +
    `${String(m.memory_gib)} GiB, Node ${String(m.node)}, nats-server ${String(m.nats_server)}${redis}${rev}; ` +
    `\`bench/results/${r.at.slice(0, 10)}-${r.scenario}.json\`.</sub>`
  );
}

interface Section {
  heading: string;
  caption: string;
  table: string;
  notes?: string[];
}

interface ThroughputRow {
  system: string;
  enqueue: string;
  concurrency: number | null;
  jobsPerSecond: Spread | null;
  failures: string[];
}

function throughput(r: Result): Section {
  const rows = r.rows as ThroughputRow[];
  const p = r.params as { jobs: number; warmup: number; runs: number };
  const raw = rows.find((x) => x.system === "raw JetStream");
  const label = (mode: string) =>
    mode === "single"
      ? "single, 1,000 in flight"
      : mode === "batch"
        ? "batch of 1,000"
        : "publish, ≤ 2,000 PubAcks out";
  const body = rows.map((x) => {
    const b = rows.find(
      (y) => y.system === "BullMQ" && y.enqueue === x.enqueue && y.concurrency === x.concurrency,
    );
    const jet = x.system === "jetjob";
    return [
      x.system,
      label(x.enqueue),
      x.concurrency === null ? "–" : String(x.concurrency),
      spreadText(x.jobsPerSecond),
      jet ? ratioText(x.jobsPerSecond, b?.jobsPerSecond) : "",
      jet ? ratioText(x.jobsPerSecond, raw?.jobsPerSecond) : "",
    ];
  });
  const failed = rows.filter((x) => x.failures.length > 0);
  return {
    heading: "Throughput",
    caption:
      `${int(p.jobs)} no-op jobs enqueued and completed, timed from the first enqueue to the last completion ` +
      `(after an untimed ${int(p.warmup)}-job warm-up), at worker concurrency 1, 10 and 50; jobs/s, median ` +
      `(min–max) of ${p.runs} runs. Raw JetStream is publish + consume + ack with no job bookkeeping at all ` +
      `(messages/s; concurrency does not apply): the ceiling of the stock client.`,
    table: markdownTable(
      ["system", "enqueue", "concurrency", "jobs/s", "jetjob/BullMQ", "jetjob/raw JetStream"],
      body,
    ),
    notes: failed.map(
      (x) => `Failed runs of ${x.system} ${x.enqueue} c=${x.concurrency}: ${x.failures.join("; ")}`,
    ),
  };
}

interface LatencyRow {
  system: string;
  measure: string;
  p50_ms: Spread | null;
  p95_ms: Spread | null;
  p99_ms: Spread | null;
  failures: string[];
}

function latency(r: Result): Section {
  const rows = r.rows as LatencyRow[];
  const p = r.params as { intervalMs: number; jobs: number; concurrency: number; runs: number };
  const f = dec(2);
  return {
    heading: "Latency",
    caption:
      `One single enqueue every ${p.intervalMs} ms (${int(p.jobs)} jobs, the send time in the args), worker ` +
      `concurrency ${p.concurrency}; time from the enqueue call to the handler's start, ms, median (min–max) ` +
      `of ${p.runs} runs.`,
    table: markdownTable(
      ["system", "measure", "p50", "p95", "p99"],
      rows.map((x) => [
        x.system,
        x.measure,
        spreadText(x.p50_ms, f),
        spreadText(x.p95_ms, f),
        spreadText(x.p99_ms, f),
      ]),
    ),
    notes: rows
      .filter((x) => x.failures.length > 0)
      .map((x) => `Failed: ${x.system}: ${x.failures.join("; ")}`),
  };
}

interface BulkRow {
  system: string;
  enqueueOnly: Spread | null;
  endToEnd: Spread | null;
  failures: string[];
}

function bulk(r: Result): Section {
  const rows = r.rows as BulkRow[];
  const p = r.params as { jobs: number; runs: number; concurrency: number };
  const jet = rows.find((x) => x.system === "jetjob");
  const bull = rows.find((x) => x.system === "BullMQ");
  return {
    heading: "Bulk enqueue",
    caption:
      `The batch API (jetjob \`enqueueMany\`, BullMQ \`addBulk\`) in chunks of 1,000, one chunk in flight, ` +
      `${int(p.jobs)} jobs: enqueue alone with no worker, and enqueue + process end to end with a worker at ` +
      `concurrency ${p.concurrency}; jobs/s, median (min–max) of ${p.runs} runs.`,
    table: markdownTable(
      ["system", "enqueue only", "enqueue + process"],
      [
        ...rows.map((x) =>
          x.system === "raw JetStream"
            ? ["raw JetStream (publish, ≤ 2,000 PubAcks out)", spreadText(x.enqueueOnly), "–"]
            : [x.system, spreadText(x.enqueueOnly), spreadText(x.endToEnd)],
        ),
        [
          "jetjob/BullMQ",
          ratioText(jet?.enqueueOnly, bull?.enqueueOnly),
          ratioText(jet?.endToEnd, bull?.endToEnd),
        ],
      ],
    ),
    notes: rows
      .filter((x) => x.failures.length > 0)
      .map((x) => `Failed: ${x.system}: ${x.failures.join("; ")}`),
  };
}

interface BacklogResult {
  system: string;
  enqueue: { seconds: number; first10PerSecond: number; last10PerSecond: number };
  drain: { seconds: number; first10PerSecond: number; last10PerSecond: number };
  serverPeakRssMiB: number;
  nodePeakRssMiB: number;
}

function backlog(r: Result): Section {
  const results = r.results as BacklogResult[];
  const failures = (r.failures ?? []) as Array<{ system: string; error: string }>;
  const p = r.params as { jobs: number; concurrency: number };
  const mib = (n: number) => `${int(n)} MiB`;
  return {
    heading: "Backlog",
    caption:
      `${int(p.jobs)} jobs enqueued with the batch API (chunks of 1,000) while no worker runs, then drained by ` +
      `one worker at concurrency ${p.concurrency}. Rates in jobs/s over the first and the last 10% of the jobs; ` +
      `peak RSS of the server (nats-server or redis-server) and of the Node process (producer and worker; ` +
      `one process per system). **One run** per system (it takes minutes).`,
    table: markdownTable(
      [
        "system",
        "enqueue first 10%",
        "enqueue last 10%",
        "drain first 10%",
        "drain last 10%",
        "enqueue / drain time",
        "server peak RSS",
        "Node peak RSS",
      ],
      results.map((x) => [
        x.system,
        int(x.enqueue.first10PerSecond),
        int(x.enqueue.last10PerSecond),
        int(x.drain.first10PerSecond),
        int(x.drain.last10PerSecond),
        `${x.enqueue.seconds.toFixed(1)} s / ${x.drain.seconds.toFixed(1)} s`,
        mib(x.serverPeakRssMiB),
        mib(x.nodePeakRssMiB),
      ]),
    ),
    notes: failures.map((f) => `Failed: ${f.system}: ${f.error}`),
  };
}

function exclusive(r: Result): Section {
  const variants = r.variants as Array<{
    name: string;
    mode?: string;
    jobsPerSecond: Spread;
    handoverMs?: { p50: Spread; p99: Spread };
  }>;
  const p = r.params as { jobs: number; runs: number; concurrency: number };
  const plain = variants[0]!.jobsPerSecond.median;
  const withHandover = variants.some((v) => v.handoverMs);
  const f = dec(2);
  return {
    heading: "Exclusive keys: cost",
    caption:
      `${int(p.jobs)} no-op jobs enqueued in batches of 500 and run by one worker at concurrency ` +
      `${p.concurrency}, plain and spread over K exclusive keys (at most K run at once, and each key hands ` +
      `over to its next job in turn); jobs/s, median (min–max) of ${p.runs} runs.` +
      (withHandover
        ? " Hand-over: from the end of a job's handler to the start of the next job of its key (from its " +
          "enqueue if later), p50 and p99 per run, ms; with more keys than slots it includes the wait for a " +
          "free slot."
        : "") +
      (variants.some((v) => v.mode === "lines")
        ? " Rows marked per-key lines hand keys on through per-key lines and records " +
          "(`JETJOB_EXCLUSIVE_SEQUENCER=0`); the others through the scheduler leader's sequencer, the default; " +
          "the two alternate run by run."
        : ""),
    table: markdownTable(
      ["variant", "jobs/s", "vs plain", ...(withHandover ? ["hand-over p50 ms", "hand-over p99 ms"] : [])],
      variants.map((v) => [
        v.name,
        spreadText(v.jobsPerSecond),
        `${((v.jobsPerSecond.median / plain) * 100).toFixed(v.name === "plain jobs" ? 0 : 1)}%`,
        ...(withHandover
          ? [
              v.handoverMs ? spreadText(v.handoverMs.p50, f) : "",
              v.handoverMs ? spreadText(v.handoverMs.p99, f) : "",
            ]
          : []),
      ]),
    ),
  };
}

function fanout(r: Result): Section {
  const p = r.params as { agents: number; jobsPerRun: number; runs: number };
  const f = dec(1);
  return {
    heading: "Fleet fan-out",
    caption:
      `One job to ${p.agents} simulated agents (in a second process, doing everything a real agent does: ` +
      `epoch and duplicate checks, acknowledgement and result stored), timed from the create call until all ` +
      `${p.agents} results are stored and the job is finished; ms, median (min–max) of ${p.runs} runs of ` +
      `${p.jobsPerRun} jobs.`,
    table: markdownTable(
      ["figure", "ms", "goal"],
      [
        ["p50 time to all results", spreadText(r.p50_ms as Spread, f), "< 150"],
        ["p99 time to all results", spreadText(r.p99_ms as Spread, f), ""],
        ["p50 time to first result", spreadText(r.first_result_p50_ms as Spread, f), ""],
      ],
    ),
  };
}

interface HttpRateRow {
  system: string;
  measure: string;
  jobsPerSecond: Spread | null;
  failures: string[];
}

interface HttpLatencyRow {
  system: string;
  p50_ms: Spread | null;
  p95_ms: Spread | null;
  p99_ms: Spread | null;
  failures: string[];
}

interface HttpParams {
  runs: number;
  push: { jobs: number; inFlight: number };
  batch: { jobs: number; size: number };
  e2e: { jobs: number; workers: number; fetchCount: number };
  latency: { jobs: number; perSecond: number };
}

function http(r: Result): Section {
  const rates = r.rates as HttpRateRow[];
  const lat = r.latency as HttpLatencyRow[];
  const p = r.params as unknown as HttpParams;
  const systems = ["jetjob HTTP door", "jetjob SDK", "BullMQ", "raw JetStream"];
  const find = (system: string, m: string) => rates.find((x) => x.system === system && x.measure === m);
  const labels: Record<string, string> = {
    push: `push, ${p.push.inFlight} in flight`,
    batch: `batch push of ${p.batch.size}`,
    e2e: `end to end, ${p.e2e.workers} workers × fetch ${p.e2e.fetchCount} → ack`,
  };
  const rateTable = markdownTable(
    ["load (jobs/s)", ...systems, "door/SDK", "door/BullMQ"],
    Object.entries(labels).map(([m, label]) => {
      const door = find("jetjob HTTP door", m)?.jobsPerSecond;
      return [
        label,
        ...systems.map((s) => {
          const row = find(s, m);
          return row ? spreadText(row.jobsPerSecond) : "–";
        }),
        ratioText(door, find("jetjob SDK", m)?.jobsPerSecond),
        ratioText(door, find("BullMQ", m)?.jobsPerSecond),
      ];
    }),
  );
  const f = dec(2);
  const latencyTable = markdownTable(
    [`single push at ${p.latency.perSecond}/s (ms)`, "p50", "p95", "p99"],
    lat.map((x) => [x.system, spreadText(x.p50_ms, f), spreadText(x.p95_ms, f), spreadText(x.p99_ms, f)]),
  );
  const failed = [...rates, ...lat].filter((x) => x.failures.length > 0);
  return {
    heading: "OJS HTTP door",
    caption:
      `A \`jetjob server\` in a process of its own, driven over keep-alive connections: ${int(p.push.jobs)} single ` +
      `pushes with ${p.push.inFlight} in flight, ${int(p.batch.jobs)} jobs in batch pushes of ${p.batch.size}, ` +
      `${int(p.e2e.jobs)} jobs end to end (batch pushes while ${p.e2e.workers} HTTP workers loop fetch of ` +
      `${p.e2e.fetchCount} → one ack per job), and ${int(p.latency.jobs)} single pushes at ` +
      `${p.latency.perSecond}/s for the round trip. jetjob's SDK, BullMQ and raw JetStream take the same loads ` +
      `(SDK and BullMQ end to end: one worker at concurrency ${p.e2e.workers * p.e2e.fetchCount}; raw: publish ` +
      `+ consume + ack); median (min–max) of ${p.runs} runs.`,
    table: `${rateTable}\n\n${latencyTable}`,
    notes: failed.map(
      (x) => `Failed runs of ${x.system} ${"measure" in x ? x.measure : "latency"}: ${x.failures.join("; ")}`,
    ),
  };
}

const renderers: Record<string, (r: Result) => Section> = {
  throughput,
  latency,
  bulk,
  backlog,
  exclusive,
  fanout,
  http,
};

/** Markdown for the given scenarios (all by default): a `###` section per scenario with results. */
export function readmeTables(names: string[] = Object.keys(renderers)): string {
  const out: string[] = [];
  for (const name of names) {
    const render = renderers[name];
    if (!render) throw new Error(`unknown scenario ${name}; known: ${Object.keys(renderers).join(", ")}`);
    const latest = latestResult(name);
    if (!latest) continue;
    const s = render(latest.result);
    out.push(`### ${s.heading}`, "", wrap(s.caption), "", s.table, "");
    for (const n of s.notes ?? []) out.push(wrap(n), "");
    out.push(wrap(machineLine(latest.result)), "");
  }
  return out.join("\n");
}

/** Replaces the block between the markers in README.md and formats the file with Prettier. */
export async function writeReadme(names?: string[]): Promise<void> {
  const text = readFileSync(readmePath, "utf8");
  const start = text.indexOf(START_MARKER);
  const end = text.indexOf(END_MARKER);
  if (start < 0 || end < start) throw new Error(`README.md has no ${START_MARKER} … ${END_MARKER} block`);
  const next = `${text.slice(0, start + START_MARKER.length)}\n\n${readmeTables(names)}\n${text.slice(end)}`;
  const options = (await prettier.resolveConfig(readmePath)) ?? {};
  writeFileSync(readmePath, await prettier.format(next, { ...options, filepath: readmePath }));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values, positionals } = parseArgs({
    options: { write: { type: "boolean", default: false } },
    allowPositionals: true,
  });
  const names = positionals.length > 0 ? positionals : undefined;
  if (values.write) {
    await writeReadme(names);
    process.stdout.write(`updated ${readmePath}\n`);
  } else process.stdout.write(readmeTables(names));
}
