// @ts-check
// The overview: totals, a throughput chart, every queue with its counts and consumers, who is online.
import { api } from "../lib/api.js";
import { badge, h, render } from "../lib/dom.js";
import { labelsText } from "../lib/format.js";
import { debounce, every, stream } from "../lib/live.js";
import { consumersCell, queueLinks, queueStats } from "../lib/widgets.js";

function sparkline(points) {
  const w = 600;
  const hgt = 70;
  const max = Math.max(1, ...points);
  const step = w / Math.max(1, points.length - 1);
  const d = points
    .map((p, i) => `${(i * step).toFixed(1)},${(hgt - 4 - (p / max) * (hgt - 8)).toFixed(1)}`)
    .join(" ");
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", `0 0 ${w} ${hgt}`);
  svg.setAttribute("preserveAspectRatio", "none");
  const line = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
  line.setAttribute("points", d);
  line.setAttribute("fill", "none");
  line.setAttribute("stroke", "#2f6fed");
  line.setAttribute("stroke-width", "2");
  svg.append(line);
  return svg;
}

/** @type {{ last: { finished: number, at: number } | undefined, points: number[] }} */
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
  throughput.points = buckets;
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
      throughput.points.push(rate);
      if (throughput.points.length > 90) throughput.points.shift();
    }
    throughput.last = { finished, at: now };
    const latest = throughput.points.at(-1) ?? 0;
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
      throughput.points.length > 1 ? sparkline(throughput.points) : h("p", { class: "muted" }, "collecting…"),
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
