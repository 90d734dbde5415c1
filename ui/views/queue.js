// @ts-check
// A queue: its counts, pause/resume, consumers, and its jobs by state (live).
import { api } from "../lib/api.js";
import { badge, field, h, render, toast } from "../lib/dom.js";
import { short, time } from "../lib/format.js";
import { debounce, stream } from "../lib/live.js";
import { jobStates } from "../lib/names.js";
import { statsOf } from "../lib/widgets.js";
import { queueCharts } from "./queue-charts.js";

/** The order of the state tabs; the states themselves come from the server (names.js). */
const tabOrder = [
  "available",
  "active",
  "scheduled",
  "retryable",
  "pending",
  "completed",
  "discarded",
  "cancelled",
];
const rank = (/** @type {string} */ s) => (tabOrder.includes(s) ? tabOrder.indexOf(s) : tabOrder.length);
const states = [...jobStates].sort((a, b) => rank(a) - rank(b));

/** Jobs read at most by one search (10 pages of 500, newest first): the API has no such filter. */
const SEARCH_PAGES = 10;

/**
 * Whether a job matches the search: its type exactly (or as a prefix ending in `*`) and its id's start.
 * @param {{ type?: string, id?: string }} f @param {any} j
 */
const matches = (f, j) =>
  (!f.type || (f.type.endsWith("*") ? j.type.startsWith(f.type.slice(0, -1)) : j.type === f.type)) &&
  (!f.id || j.id.startsWith(f.id));

/**
 * A queue's page; `filter` (from the hash: `?type=&id=`) searches by job type and by id prefix.
 * @param {string} name @param {string | undefined} state @param {{ type?: string, id?: string }} [filter]
 */
export async function queueView(name, state, filter = {}) {
  const enc = encodeURIComponent(name);
  const head = h("div");
  const list = h("div", { id: "jobs", class: "scroll" });
  const searching = Boolean(filter.type || filter.id);
  const search = h(
    "form",
    { class: "inline", id: "queue-search" },
    h("input", {
      name: "type",
      placeholder: "job type (or prefix*)",
      value: filter.type ?? "",
      "aria-label": "job type",
    }),
    h("input", {
      name: "id",
      placeholder: "job id or its start",
      value: filter.id ?? "",
      "aria-label": "job id prefix",
    }),
    h("button", { type: "submit" }, "Search"),
    searching ? h("a", { href: `#/queues/${enc}${state ? `?state=${state}` : ""}` }, "clear") : "",
  );
  search.addEventListener("submit", (e) => {
    e.preventDefault();
    const q = new URLSearchParams();
    if (state) q.set("state", state);
    for (const k of ["type", "id"])
      if (field(search, k).value.trim()) q.set(k, field(search, k).value.trim());
    location.hash = `#/queues/${enc}${q.size ? `?${q}` : ""}`;
  });
  const tabs = h(
    "div",
    { class: "toolbar tabs" },
    h("a", { href: `#/queues/${enc}`, class: state ? "" : "active" }, "all"),
    ...states.map((s) =>
      h("a", { href: `#/queues/${enc}?state=${s}`, class: state === s ? "active" : "" }, s),
    ),
  );
  const note = h("p", { class: "muted", id: "search-note" });
  render(h("h1", {}, "Queue ", h("span", { class: "mono" }, name)), head, tabs, search, note, list);
  head.after(queueCharts(name));
  let cursor;
  async function refreshHead() {
    const s = statsOf(await api("GET", `/ojs/v1/queues/${enc}/stats`));
    const toggle = h(
      "button",
      {
        id: "pause-toggle",
        onclick: async () => {
          await api("POST", `/ojs/v1/queues/${enc}/${s.paused ? "resume" : "pause"}`, {});
          toast(s.paused ? "resumed" : "paused");
          await refreshHead();
        },
      },
      s.paused ? "Resume" : "Pause",
    );
    const { workers: takers } = await api("GET", "/api/v1/workers?kind=queue").catch(() => ({ workers: [] }));
    const consumers = takers.filter((w) => w.queues.includes(name)).length;
    const waitingAlone = consumers === 0 && !s.paused && (s.available ?? 0) > 0;
    const consumerNote = h(
      "span",
      { id: "consumers", "data-consumers": consumers },
      waitingAlone
        ? h("span", { class: "badge s-offline" }, "⚠ jobs wait, no worker takes this queue")
        : `${consumers} worker${consumers === 1 ? "" : "s"} online`,
    );
    head.replaceChildren(
      h(
        "div",
        { class: "cards" },
        ...states
          .filter((k) => k in s || k === "available")
          .map((k) =>
            h("div", { class: "card" }, h("div", { class: "n" }, s[k] ?? 0), h("div", { class: "l" }, k)),
          ),
      ),
      h(
        "div",
        { class: "toolbar" },
        s.paused ? badge("paused") : badge("active", "active-q"),
        toggle,
        consumerNote,
      ),
    );
  }
  async function refreshList(more) {
    const q = new URLSearchParams({ queue: name, limit: "50" });
    if (state) q.set("state", state);
    if (more && cursor) q.set("cursor", cursor);
    /** @type {{ jobs: any[], next_cursor?: string }} */
    let page;
    if (!searching) {
      page = await api("GET", `/api/v1/jobs?${q}`);
    } else {
      // Reads newest first until 50 jobs match or SEARCH_PAGES pages are read.
      q.set("limit", "500");
      const found = [];
      let read = 0;
      let next;
      for (let n = 0; n < SEARCH_PAGES && found.length < 50; n++) {
        const p = await api("GET", `/api/v1/jobs?${q}`);
        read += p.jobs.length;
        found.push(...p.jobs.filter((/** @type {any} */ j) => matches(filter, j)));
        next = p.next_cursor;
        if (!next) break;
        q.set("cursor", next);
      }
      page = { jobs: found, next_cursor: next };
      note.textContent = `${found.length} match${found.length === 1 ? "" : "es"} in the ${read} newest jobs read${next ? " (More reads further)" : ""}`;
    }
    cursor = page.next_cursor;
    const rows = page.jobs.map((j) =>
      h(
        "tr",
        { "data-job": j.id },
        h("td", {}, h("a", { class: "mono", href: `#/jobs/${j.id}` }, j.id)),
        h("td", {}, j.type),
        h("td", {}, badge(j.state)),
        h("td", { class: "num" }, `${j.attempt}/${j.max_attempts}`),
        h("td", {}, short(j.args, 60)),
        h("td", {}, time(j.created_at)),
      ),
    );
    const table = more
      ? /** @type {HTMLTableElement} */ (list.querySelector("table"))
      : h(
          "table",
          {},
          h("tr", {}, ...["id", "type", "state", "attempt", "args", "created"].map((t) => h("th", {}, t))),
        );
    table.append(...rows);
    const moreButton = cursor
      ? h("p", {}, h("button", { onclick: () => void refreshList(true) }, "More"))
      : "";
    list.replaceChildren(
      page.jobs.length === 0 && !more
        ? h("p", { class: "muted" }, searching ? "No job matches." : "No jobs here.")
        : table,
      moreButton,
    );
  }
  const soon = debounce(
    () => void Promise.all([refreshHead(), refreshList(false)]).catch(() => undefined),
    300,
  );
  // Subscribed before the first read, so a change between that read and the stream's start is not missed.
  stream(`/ojs/v1/queues/${enc}/events`, soon);
  await Promise.all([refreshHead(), refreshList(false)]);
}
