// @ts-check
// Charts of one queue (or of all queues): jobs completed and failed per minute over the last 30
// minutes (GET /ojs/v1/admin/stats/history, counted from the stored lifecycle events), and wait and
// run time p50/p95/p99 (GET /api/v1/metrics/latency, this server's /metrics histograms since it
// started). Used by the queue page (one call in queue.js) and the overview.
import { api } from "../lib/api.js";
import { barChart, linesChart } from "../lib/chart.js";
import { h } from "../lib/dom.js";
import { time } from "../lib/format.js";
import { every } from "../lib/live.js";

const WINDOW_MS = 30 * 60_000;
/**
 * How often the charts are read again: each read counts the window's stored events on the server
 * (up to its read bound), so not at the pace of the live tables.
 */
const REFRESH_MS = 30_000;

/** Milliseconds as a tick: "250 ms", "1.5 s". @param {number} ms */
export const msTick = (ms) =>
  ms >= 1000
    ? `${Number.isInteger(ms / 1000) ? ms / 1000 : (ms / 1000).toFixed(1)} s`
    : `${Math.round(ms)} ms`;

/**
 * Completed and failed per minute, last 30 minutes.
 * @param {string | undefined} queue undefined: all queues
 * @param {number} [width] of the drawing (it scales to its box): 420 beside another chart, 600 alone
 */
export async function throughputChart(queue, width = 420) {
  const q = new URLSearchParams({ period: "1m", since: "30m" });
  if (queue !== undefined) q.set("queue", queue);
  const r = await api("GET", `/ojs/v1/admin/stats/history?${q}`);
  const now = Date.now();
  // A bucket's count is drawn at its end (the current, partial minute at "now").
  const at = (/** @type {any} */ p) => Math.min(Date.parse(p.timestamp) + 60_000, now);
  const series = ["completed", "failed"].map((k) => ({
    name: k,
    points: r.data.map((/** @type {any} */ p) => ({ at: at(p), v: p[k] ?? 0 })),
  }));
  const totals = series.map((s) => s.points.reduce((a, p) => a + p.v, 0));
  return h(
    "div",
    { class: "spark", "data-chart": "throughput" },
    linesChart(series, {
      windowMs: WINDOW_MS,
      now,
      yTitle: "jobs/min",
      xTitle: "time (last 30 minutes)",
      tickEveryMin: 10,
      width,
    }),
    h(
      "div",
      { class: "legend" },
      ...series.map((s, k) =>
        h(
          "span",
          { "data-legend": s.name, "data-total": totals[k] },
          h("span", { class: `key s${k + 1}` }),
          `${s.name}: ${totals[k]} in 30 min`,
        ),
      ),
      r.approximate ? h("span", {}, "(approximate: more events than one read covers)") : "",
    ),
  );
}

/**
 * Wait and run time p50/p95/p99 of one queue, as bars.
 * @param {any} l one queue of GET /api/v1/metrics/latency, or undefined when nothing was observed
 * @param {string} since
 */
export function percentileChart(l, since) {
  const wait = l?.wait ?? { count: 0 };
  const run = l?.run ?? { count: 0 };
  const bars = (/** @type {any} */ s) => ["p50", "p95", "p99"].map((p) => ({ name: p, v: s[`${p}_ms`] }));
  return h(
    "div",
    { class: "spark", "data-chart": "percentiles" },
    barChart(
      [
        { label: "wait", bars: bars(wait) },
        { label: "run", bars: bars(run) },
      ],
      { yTitle: "time", xTitle: "percentile of wait and run time", format: msTick },
    ),
    h(
      "div",
      { class: "legend" },
      h("span", { "data-count": "wait" }, `${wait.count} waits`),
      h("span", { "data-count": "run" }, `${run.count} runs`),
      h("span", {}, `since ${time(since)}, estimated from this server's histogram buckets`),
    ),
  );
}

/**
 * A queue's charts, refreshed every {@link REFRESH_MS} while its page is shown.
 * @param {string} queue
 */
export function queueCharts(queue) {
  const box = h("div", { class: "charts", id: "queue-charts" });
  async function refresh() {
    const [tp, lat] = await Promise.all([
      throughputChart(queue),
      api("GET", `/api/v1/metrics/latency?queue=${encodeURIComponent(queue)}`).catch(() => undefined),
    ]);
    box.replaceChildren(
      h("div", {}, h("h2", {}, "Completed and failed per minute"), tp),
      h(
        "div",
        {},
        h("h2", {}, "Wait and run time"),
        lat
          ? percentileChart(
              lat.queues.find((/** @type {any} */ x) => x.queue === queue),
              lat.since,
            )
          : h("p", { class: "muted" }, "This server keeps no metrics."),
      ),
    );
  }
  void refresh().catch(() => undefined);
  every(REFRESH_MS, () => void refresh().catch(() => undefined));
  return box;
}

/** The overview's charts: all queues' completed and failed per minute, and each queue's percentiles. */
export function overviewCharts() {
  const box = h("div", { id: "overview-charts" });
  async function refresh() {
    const [tp, lat] = await Promise.all([
      throughputChart(undefined, 600),
      api("GET", "/api/v1/metrics/latency").catch(() => undefined),
    ]);
    const cell = (/** @type {number | undefined} */ v) =>
      h("td", { class: "num" }, v === undefined ? "–" : msTick(v));
    box.replaceChildren(
      h("h2", {}, "Completed and failed per minute (all queues)"),
      tp,
      h("h2", {}, "Wait and run time per queue (p50 / p95 / p99)"),
      !lat
        ? h("p", { class: "muted" }, "This server keeps no metrics.")
        : lat.queues.length === 0
          ? h("p", { class: "muted" }, "No job has started or finished since this server started.")
          : h(
              "div",
              { class: "scroll" },
              h(
                "table",
                { id: "latency" },
                h(
                  "tr",
                  {},
                  h("th", {}, "queue"),
                  ...["waits", "wait p50", "p95", "p99", "runs", "run p50", "p95", "p99"].map((t) =>
                    h("th", { class: "num" }, t),
                  ),
                ),
                ...lat.queues.map((/** @type {any} */ q) =>
                  h(
                    "tr",
                    { "data-queue": q.queue },
                    h("td", {}, h("a", { href: `#/queues/${encodeURIComponent(q.queue)}` }, q.queue)),
                    h("td", { class: "num" }, q.wait.count),
                    cell(q.wait.p50_ms),
                    cell(q.wait.p95_ms),
                    cell(q.wait.p99_ms),
                    h("td", { class: "num" }, q.run.count),
                    cell(q.run.p50_ms),
                    cell(q.run.p95_ms),
                    cell(q.run.p99_ms),
                  ),
                ),
              ),
              h(
                "p",
                { class: "muted" },
                `since ${time(lat.since)}, estimated from this server's histogram buckets`,
              ),
            ),
    );
  }
  void refresh().catch(() => undefined);
  every(REFRESH_MS, () => void refresh().catch(() => undefined));
  return box;
}
