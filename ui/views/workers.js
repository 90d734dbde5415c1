// @ts-check
// Workers: fleet agents (drain/undrain), agent enrollment (agent-identities.js) and queue workers with
// their state, queues and counts.
import { api } from "../lib/api.js";
import { badge, h, json, render, toast } from "../lib/dom.js";
import { labelsText, time } from "../lib/format.js";
import { every } from "../lib/live.js";
import { queueLinks } from "../lib/widgets.js";
import { identitiesSection } from "./agent-identities.js";

export async function workersView() {
  const list = h("div");
  const queueList = h("div", { id: "queue-workers" });
  const enrollment = identitiesSection();
  render(
    h("h1", {}, "Workers and agents"),
    h("h2", {}, "Agents"),
    list,
    enrollment.el,
    h("h2", {}, "Queue workers"),
    queueList,
  );
  async function refresh() {
    const [{ workers: all }] = await Promise.all([
      api("GET", "/api/v1/workers?offline=true"),
      enrollment.refresh(),
    ]);
    const workers = all.filter((w) => w.kind !== "queue");
    const queueWorkers = all.filter((w) => w.kind === "queue");
    queueList.replaceChildren(
      queueWorkers.length === 0
        ? h(
            "p",
            { class: "muted" },
            "No queue workers registered. A worker made with createWorker() from jetjob/worker appears here while it runs.",
          )
        : h(
            "table",
            {},
            h(
              "tr",
              {},
              ...[
                "id",
                "state",
                "running",
                "queues",
                "done / failed",
                "host",
                "version",
                "started",
                "last seen",
              ].map((t) => h("th", {}, t)),
            ),
            ...queueWorkers.map((w) =>
              h(
                "tr",
                { "data-queue-worker": w.id },
                h("td", { class: "mono" }, w.id),
                h(
                  "td",
                  {},
                  !w.online
                    ? badge("offline")
                    : w.state && w.state !== "running"
                      ? badge(w.state, "retryable")
                      : badge("online", "ready"),
                ),
                h("td", { class: "num" }, w.via === "http" ? "–" : `${w.running}/${w.concurrency}`),
                h("td", {}, queueLinks(w.queues)),
                h("td", { class: "num" }, w.via === "http" ? "–" : `${w.completed} / ${w.failed}`),
                h("td", {}, w.via === "http" ? "HTTP worker" : `${w.host} (pid ${w.pid})`),
                h("td", {}, w.version),
                h("td", {}, time(w.started_at)),
                h("td", {}, time(w.last_seen)),
              ),
            ),
          ),
    );
    list.replaceChildren(
      workers.length === 0
        ? h("p", { class: "muted" }, "No agents registered. Start one with `jetjob agent --nats URL`.")
        : h(
            "table",
            {},
            h(
              "tr",
              {},
              ...["hostname", "state", "running", "labels", "facts", "version", "last seen", ""].map((t) =>
                h("th", {}, t),
              ),
            ),
            ...workers.map((w) =>
              h(
                "tr",
                { "data-worker": w.hostname },
                h("td", {}, w.hostname),
                h("td", {}, badge(w.online ? w.state : "offline")),
                h("td", { class: "num" }, `${w.running}/${w.concurrency}`),
                h("td", {}, labelsText(w.labels)),
                h(
                  "td",
                  {},
                  h(
                    "details",
                    {},
                    h(
                      "summary",
                      {},
                      `${Object.keys(w.facts).length} facts, ${w.operations.length} operations`,
                    ),
                    json({ facts: w.facts, operations: w.operations.map((o) => `${o.name} (${o.kind})`) }),
                  ),
                ),
                h("td", {}, w.version),
                h("td", {}, time(w.last_seen)),
                h(
                  "td",
                  {},
                  w.online
                    ? h(
                        "button",
                        {
                          onclick: async () => {
                            await api(
                              "POST",
                              `/api/v1/workers/${encodeURIComponent(w.hostname)}/${w.state === "ready" ? "drain" : "undrain"}`,
                              {},
                            );
                            toast(
                              w.state === "ready"
                                ? `draining ${w.hostname}`
                                : `${w.hostname} takes jobs again`,
                            );
                            await refresh();
                          },
                        },
                        w.state === "ready" ? "Drain" : "Undrain",
                      )
                    : "",
                ),
              ),
            ),
          ),
    );
  }
  await refresh();
  every(2000, () => void refresh().catch(() => undefined));
}
