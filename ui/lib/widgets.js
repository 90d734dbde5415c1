// @ts-check
// Pieces several views share: queue stats, consumer cells, queue links, host lists, a progress bar.
import { api } from "./api.js";
import { badge, h } from "./dom.js";
import { short } from "./format.js";

/** A queue's stats response (OJS http-binding §11.2: counts under `stats`) as one flat object. */
export function statsOf(r) {
  return { ...r.stats, name: r.name, paused: r.paused };
}

export async function queueStats() {
  const { queues } = await api("GET", "/ojs/v1/queues?limit=1000");
  return Promise.all(
    queues.map(async (q) => statsOf(await api("GET", `/ojs/v1/queues/${encodeURIComponent(q.name)}/stats`))),
  );
}

/** A queue's consumers for a table cell: the count, or a warning when jobs wait and no worker takes them. */
export function consumersCell(q) {
  if (!q) return "–";
  if (q.no_consumers)
    return h("span", { class: "badge s-offline", title: "jobs wait and no worker takes this queue" }, "0 ⚠");
  return String(q.consumers);
}

export function queueLinks(queues) {
  if (queues.length === 0) return "–";
  return queues.flatMap((q, i) => [
    ...(i > 0 ? [", "] : []),
    h("a", { href: `#/queues/${encodeURIComponent(q)}` }, q),
  ]);
}

/**
 * The current attempt's progress (OJS progress extension) as a bar with its percent and message,
 * or undefined when the attempt reported none.
 */
export function progressBar(j) {
  if (j.progress_updated_at === undefined) return undefined;
  const value = typeof j.progress === "number" ? j.progress : 0;
  const pct = typeof j.progress === "number" ? `${Math.round(value * 1000) / 10}%` : "";
  return h(
    "span",
    { class: "progress", title: `updated ${j.progress_updated_at}` },
    h("progress", { max: "1", value: String(value) }),
    ` ${[pct, j.progress_message ?? ""].filter((t) => t !== "").join(" ")}`,
    j.progress_data ? h("span", { class: "muted" }, ` ${short(j.progress_data, 120)}`) : "",
  );
}

/** Hosts as a list of chips, each with `attr` set to its name (for tests and styling). */
export const hostChips = (/** @type {string[]} */ hosts, /** @type {string} */ attr) =>
  h("ul", { class: "hostlist" }, ...hosts.map((x) => h("li", { [attr]: x }, x)));

/** Hosts a target names or matches but a job would not run on, with why (host, state, reason). */
export function leftOutTable(leftOut, id) {
  return h(
    "table",
    { id },
    h("tr", {}, ...["host", "state", "reason"].map((t) => h("th", {}, t))),
    ...leftOut.map((l) =>
      h(
        "tr",
        { "data-left-out": l.host },
        h("td", {}, l.host),
        h("td", {}, badge(l.state)),
        h("td", {}, l.reason),
      ),
    ),
  );
}

/** The stack trace an error carries in its details (`stack`, or `backtrace` as text or lines). @param {any} e */
export function stackOf(e) {
  const d = e?.details ?? {};
  const s = d.stack ?? d.backtrace ?? e?.stack ?? e?.backtrace;
  if (Array.isArray(s)) return s.map(String).join("\n");
  return typeof s === "string" && s !== "" ? s : undefined;
}

/**
 * A job error's stack trace and other details, folded (empty when it has neither).
 * @param {any} e @param {string} [id]
 */
export function errorDetails(e, id) {
  const stack = stackOf(e);
  const rest = Object.fromEntries(
    Object.entries(e?.details ?? {}).filter(([k]) => k !== "stack" && k !== "backtrace"),
  );
  if (stack === undefined && Object.keys(rest).length === 0) return "";
  return h(
    "details",
    { class: "error-details", id, open: id !== undefined },
    h("summary", {}, stack !== undefined ? "stack trace and details" : "details"),
    stack !== undefined ? h("pre", { class: "stack" }, stack) : "",
    Object.keys(rest).length ? h("pre", {}, JSON.stringify(rest, null, 2)) : "",
  );
}

/**
 * A row's selection checkbox (`data-select` = the job id) that keeps `selected` in step with it and
 * then calls `changed` (e.g. to update a select-all box and the bulk actions).
 * @param {string} id @param {Set<string>} selected @param {() => void} changed
 */
export function selectBox(id, selected, changed) {
  return h("input", {
    type: "checkbox",
    "data-select": id,
    "aria-label": `select ${id}`,
    checked: selected.has(id),
    onchange: (/** @type {Event} */ e) => {
      if (/** @type {HTMLInputElement} */ (e.target).checked) selected.add(id);
      else selected.delete(id);
      changed();
    },
  });
}
