// @ts-check
// A queue: its counts, pause/resume, consumers, and its jobs by state (live), searched by type, id and
// text in args or errors on the server; jobs selected and retried, cancelled, run now or deleted.
import { api } from "../lib/api.js";
import { badge, field, h, render, toast } from "../lib/dom.js";
import { dur, short, time } from "../lib/format.js";
import { debounce, stream } from "../lib/live.js";
import { jobStates } from "../lib/names.js";
import { selectBox, statsOf } from "../lib/widgets.js";
import { bulkBar, runNowButton } from "./queue-actions.js";
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

/** @typedef {{ type?: string, id?: string, text?: string }} Filter */
const filterKeys = /** @type {const} */ (["type", "id", "text"]);

const count = (/** @type {number} */ n) => n.toLocaleString("en-US");

/** The hash of this queue's page in `state` with `filter`. @param {string} enc @param {string | undefined} state @param {Filter} filter */
function hashOf(enc, state, filter) {
  const q = new URLSearchParams();
  if (state) q.set("state", state);
  for (const k of filterKeys) if (filter[k]) q.set(k, /** @type {string} */ (filter[k]));
  return `#/queues/${enc}${q.size ? `?${q}` : ""}`;
}

/** How long the job ran (finished), or has run so far (active); "–" before it started. @param {any} j */
function durationOf(j) {
  if (!j.started_at) return "–";
  const end =
    j.completed_at ?? j.cancelled_at ?? (j.state === "active" ? new Date().toISOString() : undefined);
  if (!end) return "–";
  const ms = Date.parse(end) - Date.parse(j.started_at);
  return ms >= 0 ? dur(ms) : "–";
}

/**
 * A queue's page; `filter` (from the hash: `?type=&id=&text=`) searches by job type (or `prefix*`), by
 * id start and by text in the args or errors; the server reads a bounded number of jobs per search and
 * the page says how many.
 * @param {string} name @param {string | undefined} state @param {Filter} [filter]
 */
export async function queueView(name, state, filter = {}) {
  const enc = encodeURIComponent(name);
  const head = h("div");
  const list = h("div", { id: "jobs", class: "scroll" });
  const searching = filterKeys.some((k) => Boolean(filter[k]));
  const input = (/** @type {string} */ k, /** @type {string} */ placeholder, /** @type {string} */ label) =>
    h("input", {
      name: k,
      placeholder,
      value: filter[/** @type {keyof Filter} */ (k)] ?? "",
      "aria-label": label,
      maxlength: 200, // the API's bound on a search's text
    });
  const search = h(
    "form",
    { class: "inline", id: "queue-search" },
    input("type", "job type (or prefix*)", "job type"),
    input("id", "job id or its start", "job id prefix"),
    input("text", "text in args or error", "text in args or error"),
    h("button", { type: "submit" }, "Search"),
    searching ? h("a", { href: hashOf(enc, state, {}) }, "clear") : "",
  );
  search.addEventListener("submit", (e) => {
    e.preventDefault();
    /** @type {Filter} */
    const f = {};
    for (const k of filterKeys) if (field(search, k).value.trim()) f[k] = field(search, k).value.trim();
    location.hash = hashOf(enc, state, f);
  });
  // The tabs keep the search: state and type (and text) together.
  const tabs = h(
    "div",
    { class: "toolbar tabs" },
    h("a", { href: hashOf(enc, undefined, filter), class: state ? "" : "active" }, "all"),
    ...states.map((s) => h("a", { href: hashOf(enc, s, filter), class: state === s ? "active" : "" }, s)),
  );
  const note = h("p", { class: "muted", id: "search-note" });
  /** @type {Set<string>} */
  const selected = new Set();
  const bulk = bulkBar(selected, () => refreshList(false));
  render(h("h1", {}, "Queue ", h("span", { class: "mono" }, name)), head, tabs, search, note, bulk.bar, list);
  head.after(queueCharts(name));
  /** @type {string | undefined} */
  let cursor;
  let searched = 0;
  let found = 0;
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
  const boxes = () => /** @type {HTMLInputElement[]} */ ([...list.querySelectorAll("input[data-select]")]);
  const selectAll = () => /** @type {HTMLInputElement | null} */ (list.querySelector("#select-all"));
  function syncSelectAll() {
    const all = selectAll();
    if (all) all.checked = boxes().length > 0 && boxes().every((b) => b.checked);
    bulk.update();
  }
  /** @param {any} j */
  const row = (j) =>
    h(
      "tr",
      { "data-job": j.id },
      h("td", {}, selectBox(j.id, selected, syncSelectAll)),
      h("td", {}, h("a", { class: "mono", href: `#/jobs/${j.id}` }, j.id)),
      h("td", {}, j.type),
      h("td", {}, badge(j.state)),
      h("td", { class: "num" }, `${j.attempt}/${j.max_attempts}`),
      h("td", { class: "mono", title: JSON.stringify(j.args) }, short(j.args, 60)),
      h("td", {}, time(j.created_at)),
      h("td", { "data-field": "started" }, time(j.started_at)),
      h("td", { class: "num", "data-field": "duration" }, durationOf(j)),
      h("td", { class: "mono", "data-field": "worker" }, j.worker_id ?? "–"),
      h(
        "td",
        { "data-field": "error" },
        j.error ? short(`${j.error.code ?? ""} ${j.error.message ?? ""}`.trim(), 60) : "",
      ),
      h(
        "td",
        {},
        runNowButton(j, () => refreshList(false)),
      ),
    );
  /** Says how much the search read: a page never claims more than the server looked at. */
  function tellSearched() {
    const what = state ? `${state} jobs` : "jobs";
    const matches = `${found} match${found === 1 ? "" : "es"}`;
    note.textContent = cursor
      ? `${matches} in the newest ${count(searched)} ${what} searched (More searches the next ones)`
      : `${matches}; searched all ${count(searched)} ${what}`;
  }
  /** @param {boolean} more */
  async function refreshList(more) {
    const q = new URLSearchParams({ queue: name, limit: "50" });
    if (state) q.set("state", state);
    for (const k of filterKeys) if (filter[k]) q.set(k, /** @type {string} */ (filter[k]));
    if (more && cursor) q.set("cursor", cursor);
    /** @type {{ jobs: any[], next_cursor?: string, searched?: number }} */
    const page = await api("GET", `/api/v1/jobs?${q}`);
    cursor = page.next_cursor;
    if (!more) {
      searched = 0;
      found = 0;
    }
    if (searching) {
      searched += page.searched ?? page.jobs.length;
      found += page.jobs.length;
      tellSearched();
    }
    const rows = page.jobs.map(row);
    const all = h("input", {
      type: "checkbox",
      id: "select-all",
      "aria-label": "select all shown",
      onchange: (/** @type {Event} */ e) => {
        const on = /** @type {HTMLInputElement} */ (e.target).checked;
        for (const b of boxes()) {
          b.checked = on;
          if (on) selected.add(b.dataset.select ?? "");
          else selected.delete(b.dataset.select ?? "");
        }
        bulk.update();
      },
    });
    const columns = [
      "id",
      "type",
      "state",
      "attempt",
      "args",
      "created",
      "started",
      "duration",
      "worker",
      "error",
      "",
    ];
    const table = more
      ? /** @type {HTMLTableElement} */ (list.querySelector("table"))
      : h("table", {}, h("tr", {}, h("th", {}, all), ...columns.map((t) => h("th", {}, t))));
    table.append(...rows);
    // A job no longer listed cannot stay selected (it finished into another tab, or was deleted).
    if (!more) {
      const shown = new Set(page.jobs.map((j) => j.id));
      for (const id of [...selected]) if (!shown.has(id)) selected.delete(id);
    }
    const moreButton = cursor
      ? h("p", {}, h("button", { id: "more", onclick: () => void refreshList(true) }, "More"))
      : "";
    list.replaceChildren(
      page.jobs.length === 0 && !more
        ? h("p", { class: "muted" }, searching ? "No job matches." : "No jobs here.")
        : table,
      moreButton,
    );
    syncSelectAll();
  }
  // A search reads up to thousands of jobs on the server: live changes re-run it less often.
  const soon = debounce(
    () => void Promise.all([refreshHead(), refreshList(false)]).catch(() => undefined),
    searching ? 3000 : 300,
  );
  // Subscribed before the first read, so a change between that read and the stream's start is not missed.
  stream(`/ojs/v1/queues/${enc}/events`, soon);
  await Promise.all([refreshHead(), refreshList(false)]);
}
