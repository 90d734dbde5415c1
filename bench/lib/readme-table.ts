/**
 * Prints the README's "Performance" tables (Markdown) from the latest full results in bench/results,
 * so they can be regenerated with one command after a new run:
 *
 *   npm run bench:readme                       # every scenario that has results
 *   npm run bench:readme -- throughput latency # some of them
 *
 * Quick-run results (`*-quick.json`) are never used. Paste the output over the tables in README.md;
 * the columns are padded the way Prettier formats Markdown tables.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import type { Spread } from "./report.js";

const resultsDir = join(fileURLToPath(new URL(".", import.meta.url)), "..", "results");

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

/** `12,004 (10,130–18,089)`; a single run shows only the median. */
function spreadText(s: Spread | undefined | null, f: (n: number) => string = int): string {
  if (!s) return "failed";
  return s.runs.length > 1 ? `${f(s.median)} (${f(s.min)}–${f(s.max)})` : f(s.median);
}

function ratioText(a: Spread | undefined | null, b: Spread | undefined | null): string {
  return a && b ? `${(a.median / b.median).toFixed(2)}×` : "–";
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
  return (
    `_${r.scenario}: run ${r.at.slice(0, 16).replace("T", " ")} UTC on ${String(m.cores)} cores (${String(m.cpu)}), ` +
    `${String(m.memory_gib)} GiB, Node ${String(m.node)}, nats-server ${String(m.nats_server)}${redis}._`
  );
}

interface ThroughputRow {
  system: string;
  enqueue: string;
  concurrency: number | null;
  jobsPerSecond: Spread | null;
  failures: string[];
}

function throughput(r: Result): string {
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
  return [
    `Throughput: ${int(p.jobs)} no-op jobs enqueued and completed, timed from the first enqueue to the last ` +
      `completion (after an untimed ${int(p.warmup)}-job warm-up), producer and worker in one Node process; ` +
      `jobs/s, median (min–max) of ${p.runs} runs. Raw JetStream is publish + consume + ack with no job ` +
      `bookkeeping at all (messages/s; worker concurrency does not apply): the ceiling.`,
    "",
    markdownTable(
      ["system", "enqueue", "concurrency", "jobs/s", "jetjob/BullMQ", "jetjob/raw JetStream"],
      body,
    ),
    ...(failed.length > 0
      ? [
          "",
          `Failed runs: ${failed.map((x) => `${x.system} ${x.enqueue} c=${x.concurrency}: ${x.failures.join("; ")}`).join("; ")}`,
        ]
      : []),
  ].join("\n");
}

interface LatencyRow {
  system: string;
  measure: string;
  p50_ms: Spread | null;
  p95_ms: Spread | null;
  p99_ms: Spread | null;
}

function latency(r: Result): string {
  const rows = r.rows as LatencyRow[];
  const p = r.params as { intervalMs: number; jobs: number; concurrency: number; runs: number };
  const f = dec(2);
  return [
    `Latency: one single enqueue every ${p.intervalMs} ms (${int(p.jobs)} jobs), worker concurrency ${p.concurrency}, ` +
      `same process; ms, median (min–max) of ${p.runs} runs:`,
    "",
    markdownTable(
      ["system", "measure", "p50", "p95", "p99"],
      rows.map((x) => [
        x.system,
        x.measure,
        spreadText(x.p50_ms, f),
        spreadText(x.p95_ms, f),
        spreadText(x.p99_ms, f),
      ]),
    ),
  ].join("\n");
}

interface BulkRow {
  system: string;
  enqueueOnly: Spread | null;
  endToEnd: Spread | null;
}

function bulk(r: Result): string {
  const rows = r.rows as BulkRow[];
  const p = r.params as { jobs: number; runs: number; concurrency: number };
  const jet = rows.find((x) => x.system === "jetjob");
  const bull = rows.find((x) => x.system === "BullMQ");
  return [
    `Bulk: the batch API (jetjob \`enqueueMany\`, BullMQ \`addBulk\`) in chunks of 1,000, one in flight, ` +
      `${int(p.jobs)} jobs; enqueue alone with no worker, and enqueue + process with a worker at concurrency ` +
      `${p.concurrency}; jobs/s, median (min–max) of ${p.runs} runs:`,
    "",
    markdownTable(
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
  ].join("\n");
}

interface BacklogResult {
  system: string;
  enqueue: { seconds: number; first10PerSecond: number; last10PerSecond: number };
  drain: { seconds: number; first10PerSecond: number; last10PerSecond: number };
  serverPeakRssMiB: number;
  nodePeakRssMiB: number;
}

function backlog(r: Result): string {
  const results = r.results as BacklogResult[];
  const failures = (r.failures ?? []) as Array<{ system: string; error: string }>;
  const p = r.params as { jobs: number; concurrency: number };
  const mib = (n: number) => `${int(n)} MiB`;
  return [
    `Backlog: ${int(p.jobs)} jobs enqueued with the batch API (chunks of 1,000) and no worker running, then ` +
      `drained by one worker at concurrency ${p.concurrency}; rates (jobs/s) over the first and the last 10% ` +
      `of the jobs; peak RSS of the server (nats-server or redis-server) and of the Node process (producer ` +
      `and worker; one process per system). **One run** (it takes minutes):`,
    "",
    markdownTable(
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
    ...(failures.length > 0
      ? ["", `Failed: ${failures.map((f) => `${f.system}: ${f.error}`).join("; ")}`]
      : []),
  ].join("\n");
}

function exclusive(r: Result): string {
  const variants = r.variants as Array<{ name: string; jobsPerSecond: Spread }>;
  const plain = variants[0]!.jobsPerSecond.median;
  return markdownTable(
    ["variant", "jobs/s", "vs plain"],
    variants.map((v) => [
      v.name,
      spreadText(v.jobsPerSecond),
      `${((v.jobsPerSecond.median / plain) * 100).toFixed(v.name === "plain jobs" ? 0 : 1)}%`,
    ]),
  );
}

function fanout(r: Result): string {
  const f = dec(1);
  return markdownTable(
    ["figure", "ms", "goal"],
    [
      ["p50 time to all results", spreadText(r.p50_ms as Spread, f), "< 150"],
      ["p99 time to all results", spreadText(r.p99_ms as Spread, f), ""],
      ["p50 time to first result", spreadText(r.first_result_p50_ms as Spread, f), ""],
    ],
  );
}

const renderers: Record<string, (r: Result) => string> = {
  throughput,
  latency,
  bulk,
  backlog,
  exclusive,
  fanout,
};

export function readmeTables(names: string[] = Object.keys(renderers)): string {
  const out: string[] = [];
  for (const name of names) {
    const render = renderers[name];
    if (!render) throw new Error(`unknown scenario ${name}; known: ${Object.keys(renderers).join(", ")}`);
    const latest = latestResult(name);
    if (!latest) {
      out.push(`<!-- ${name}: no results in bench/results -->`);
      continue;
    }
    out.push(
      `<!-- ${name}: bench/results/${latest.file} -->`,
      "",
      render(latest.result),
      "",
      machineLine(latest.result),
    );
    out.push("");
  }
  return out.join("\n");
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  process.stdout.write(readmeTables(process.argv.slice(2).length > 0 ? process.argv.slice(2) : undefined));
}
