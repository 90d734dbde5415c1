// @ts-check
// Workflows, newest first, by page and state: each with its kind, state and steps done of total.
import { api } from "../lib/api.js";
import { badge, h, render } from "../lib/dom.js";
import { time } from "../lib/format.js";
import { every } from "../lib/live.js";

/** The states the list can filter by (GET /ojs/v1/workflows?state=). */
const filters = ["running", "completed", "failed", "cancelled"];
const PER_PAGE = 25;

/** @param {number} page @param {string | undefined} state */
export async function workflowsView(page, state) {
  const link = (/** @type {number} */ p, /** @type {string | undefined} */ s) =>
    `#/workflows?page=${p}${s ? `&state=${s}` : ""}`;
  const list = h("div", { id: "workflows", class: "scroll" });
  const pager = h("div", { class: "toolbar" });
  render(
    h("h1", {}, "Workflows"),
    h(
      "div",
      { class: "toolbar tabs" },
      h("a", { href: link(1, undefined), class: state ? "" : "active" }, "all"),
      ...filters.map((s) => h("a", { href: link(1, s), class: state === s ? "active" : "" }, s)),
    ),
    list,
    pager,
  );
  async function refresh() {
    const q = new URLSearchParams({ page: String(page), per_page: String(PER_PAGE) });
    if (state) q.set("state", state);
    const r = await api("GET", `/ojs/v1/workflows?${q}`);
    list.replaceChildren(
      r.items.length === 0
        ? h("p", { class: "muted" }, "No workflows here.")
        : h(
            "table",
            {},
            h("tr", {}, ...["id", "name", "kind", "state", "steps", "created"].map((t) => h("th", {}, t))),
            ...r.items.map((/** @type {any} */ w) =>
              h(
                "tr",
                { "data-workflow": w.id },
                h("td", {}, h("a", { class: "mono", href: `#/workflows/${w.id}` }, w.id)),
                h("td", {}, w.name ?? "–"),
                h("td", {}, w.type),
                h("td", {}, badge(w.state)),
                h("td", { class: "num" }, `${w.steps_completed}/${w.steps_total}`),
                h("td", {}, time(w.created_at)),
              ),
            ),
          ),
    );
    const p = r.pagination;
    pager.replaceChildren(
      h("span", { class: "muted" }, `page ${p.page} of ${p.total_pages} (${p.total} workflows)`),
      p.page > 1 ? h("a", { href: link(p.page - 1, state), id: "prev" }, "← newer") : "",
      p.has_more ? h("a", { href: link(p.page + 1, state), id: "next" }, "older →") : "",
    );
  }
  await refresh();
  every(3000, () => void refresh().catch(() => undefined));
}
