// @ts-check
// The overview: totals, a throughput chart, every queue with its counts and consumers, who is online.
import { api } from "../lib/api.js";
import { lineChart } from "../lib/chart.js";
import { badge, h, render } from "../lib/dom.js";
import { labelsText } from "../lib/format.js";
import { debounce, every, stream } from "../lib/live.js";
import { consumersCell, queueLinks, queueStats } from "../lib/widgets.js";
import { overviewCharts } from "./queue-charts.js";

/** The chart's window: the last 3 minutes. */
const WINDOW_MS = 180_000;

/** @type {{ last: { finished: number, at: number } | undefined, points: { at: number, v: number }[] }} */
const throughput = { last: undefined, points: [] };

/** Fills the chart's past from recent lifecycle events: finished jobs per second, 2 s buckets, 3 minutes. */
async function seedThroughput() {
  const { events } = await api("GET", "/ojs/v1/events?types=job.completed,job.discarded&limit=1000");
  const now = Date.now();
  const buckets = new Array(90).fill(0);
  for (const e of events) {
    const age = now - Date.parse(e.timestamp);
    const i = 89 - Math.floor(age / 2000);
    if (i >= 0 && i < 90) buckets[i] += 0.5;
  }
  throughput.points = buckets.map((v, i) => ({ at: now - (89 - i) * 2000, v }));
}

export async function overview() {
  const cards = h("div", { class: "cards" });
  const chart = h("div", { class: "spark", id: "throughput" });
  const queuesTable = h("div", { id: "queues" });
  const agentsTable = h("div", { id: "agents" });
  render(
    h("h1", {}, "Overview"),
    cards,
    h("h2", {}, "Throughput (jobs finished per second, all queues)"),
    chart,
    h("h2", {}, "Queues"),
    queuesTable,
    overviewCharts(),
    h("h2", {}, "Workers and agents online"),
    agentsTable,
  );

  async function refresh() {
    const [stats, workers, withConsumers] = await Promise.all([
      queueStats(),
      api("GET", "/api/v1/workers"),
      api("GET", "/api/v1/queues").catch(() => ({ queues: [] })),
    ]);
    const consumersOf = new Map(withConsumers.queues.map((q) => [q.name, q]));
    const agents = workers.workers.filter((w) => w.kind !== "queue");
    const queueWorkers = workers.workers.filter((w) => w.kind === "queue");
    const sum = (k) => stats.reduce((a, s) => a + (s[k] ?? 0), 0);
    const finished = sum("completed") + sum("discarded");
    const now = Date.now();
    if (throughput.last) {
      const rate = Math.max(0, (finished - throughput.last.finished) / ((now - throughput.last.at) / 1000));
      throughput.points.push({ at: now, v: rate });
      while ((throughput.points[0]?.at ?? now) < now - WINDOW_MS) throughput.points.shift();
    }
    throughput.last = { finished, at: now };
    const latest = throughput.points.at(-1)?.v ?? 0;
    cards.replaceChildren(
      ...[
        ["queues", stats.length],
        ["waiting", sum("available")],
        ["running", sum("active")],
        ["completed", sum("completed")],
        ["discarded", sum("discarded")],
        ["agents online", agents.length],
        ["queue workers", queueWorkers.length],
        ["jobs/s now", latest.toFixed(1)],
      ].map(([l, n]) =>
        h("div", { class: "card" }, h("div", { class: "n", "data-card": l }, n), h("div", { class: "l" }, l)),
      ),
    );
    chart.replaceChildren(
      throughput.points.length > 1
        ? lineChart(throughput.points, {
            windowMs: WINDOW_MS,
            now,
            yTitle: "jobs/s",
            xTitle: "time (last 3 minutes)",
          })
        : h("p", { class: "muted" }, "collecting…"),
    );
    queuesTable.replaceChildren(
      stats.length === 0
        ? h("p", { class: "muted" }, "No queues yet: enqueue a job to create one.")
        : h(
            "table",
            {},
            h(
              "tr",
              {},
              h("th", {}, "queue"),
              h("th", {}, "status"),
              ...["available", "active", "completed", "discarded", "cancelled", "retried"].map((k) =>
                h("th", { class: "num" }, k),
              ),
              h("th", { class: "num" }, "workers"),
            ),
            ...stats.map((s) =>
              h(
                "tr",
                { "data-queue": s.name },
                h("td", {}, h("a", { href: `#/queues/${encodeURIComponent(s.name)}` }, s.name)),
                h("td", {}, s.paused ? badge("paused") : badge("active", "active-q")),
                ...["available", "active", "completed", "discarded", "cancelled", "retried"].map((k) =>
                  h("td", { class: "num", "data-count": k }, s[k] ?? 0),
                ),
                h("td", { class: "num", "data-count": "consumers" }, consumersCell(consumersOf.get(s.name))),
              ),
            ),
          ),
    );
    agentsTable.replaceChildren(
      workers.workers.length === 0
        ? h("p", { class: "muted" }, "No agents or queue workers online.")
        : h(
            "table",
            {},
            h(
              "tr",
              {},
              h("th", {}, "kind"),
              h("th", {}, "name"),
              h("th", {}, "state"),
              h("th", {}, "running"),
              h("th", {}, "labels / queues"),
            ),
            ...agents.map((w) =>
              h(
                "tr",
                {},
                h("td", {}, "agent"),
                h("td", {}, w.hostname),
                h("td", {}, badge(w.state)),
                h("td", {}, `${w.running}/${w.concurrency}`),
                h("td", {}, labelsText(w.labels)),
              ),
            ),
            ...queueWorkers.map((w) =>
              h(
                "tr",
                { "data-queue-worker": w.id },
                h("td", {}, "queue"),
                h("td", { class: "mono" }, w.id),
                h("td", {}, badge("online", "ready")),
                h("td", {}, `${w.running}/${w.concurrency}`),
                h("td", {}, queueLinks(w.queues)),
              ),
            ),
          ),
    );
  }
  if (throughput.points.length === 0) await seedThroughput().catch(() => undefined);
  await refresh();
  const soon = debounce(() => void refresh().catch(() => undefined), 300);
  stream("/api/v1/events/stream", soon);
  every(2000, () => void refresh().catch(() => undefined));
}
