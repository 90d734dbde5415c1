// @ts-check
// Dead letters: when each failed, its args and error; retry or delete one, the selected ones, or select
// them all.
import { api } from "../lib/api.js";
import { h, render, toast } from "../lib/dom.js";
import { short, time } from "../lib/format.js";
import { every } from "../lib/live.js";
import { selectBox } from "../lib/widgets.js";

export async function dlqView() {
  const list = h("div", { class: "scroll" });
  const bar = h("div", { class: "toolbar" });
  render(h("h1", {}, "Dead letters"), bar, list);
  /** @type {Set<string>} */
  const selected = new Set();
  /** @param {"retry" | "delete"} action */
  async function bulk(action) {
    for (const id of [...selected]) {
      if (action === "retry") await api("POST", `/ojs/v1/dead-letter/${id}/retry`, {});
      else await api("DELETE", `/ojs/v1/dead-letter/${id}`);
    }
    toast(`${action === "retry" ? "retried" : "deleted"} ${selected.size}`);
    selected.clear();
    await refresh();
  }
  async function refresh() {
    const page = await api("GET", "/ojs/v1/dead-letter?limit=200");
    for (const id of [...selected])
      if (!page.jobs.some((/** @type {any} */ j) => j.id === id)) selected.delete(id);
    const boxes = () => /** @type {HTMLInputElement[]} */ ([...list.querySelectorAll("input[data-select]")]);
    const all = h("input", {
      type: "checkbox",
      id: "select-all",
      "aria-label": "select all",
      checked: page.jobs.length > 0 && page.jobs.every((/** @type {any} */ j) => selected.has(j.id)),
      onchange: (/** @type {Event} */ e) => {
        const on = /** @type {HTMLInputElement} */ (e.target).checked;
        for (const j of page.jobs)
          if (on) selected.add(j.id);
          else selected.delete(j.id);
        for (const b of boxes()) b.checked = on;
      },
    });
    bar.replaceChildren(
      h("span", { class: "muted" }, `${page.pagination.total} dead letter(s)`),
      h("button", { id: "retry-selected", onclick: () => void bulk("retry") }, "Retry selected"),
      h(
        "button",
        { id: "delete-selected", class: "danger", onclick: () => void bulk("delete") },
        "Delete selected",
      ),
    );
    list.replaceChildren(
      page.jobs.length === 0
        ? h("p", { class: "muted", id: "dlq-empty" }, "No dead letters.")
        : h(
            "table",
            {},
            h(
              "tr",
              {},
              h("th", {}, all),
              ...["id", "type", "queue", "failed at", "args", "error", "attempts", ""].map((t) =>
                h("th", {}, t),
              ),
            ),
            ...page.jobs.map((j) =>
              h(
                "tr",
                { "data-job": j.id },
                h(
                  "td",
                  {},
                  selectBox(j.id, selected, () => {
                    /** @type {HTMLInputElement} */ (all).checked = boxes().every((b) => b.checked);
                  }),
                ),
                h("td", {}, h("a", { class: "mono", href: `#/jobs/${j.id}` }, j.id)),
                h("td", {}, j.type),
                h("td", {}, j.queue),
                h(
                  "td",
                  { "data-field": "failed-at" },
                  time(j.discarded_at ?? j.completed_at ?? j.error?.occurred_at),
                ),
                h(
                  "td",
                  { class: "mono", "data-field": "args", title: JSON.stringify(j.args) },
                  short(j.args, 60),
                ),
                h("td", {}, j.error ? `${j.error.code ?? ""} ${j.error.message ?? ""}` : ""),
                h("td", { class: "num" }, j.attempt),
                h(
                  "td",
                  {},
                  h(
                    "button",
                    {
                      class: "retry",
                      onclick: async () => {
                        await api("POST", `/ojs/v1/dead-letter/${j.id}/retry`, {});
                        toast("retried");
                        await refresh();
                      },
                    },
                    "Retry",
                  ),
                  " ",
                  h(
                    "button",
                    {
                      class: "danger",
                      onclick: async () => {
                        await api("DELETE", `/ojs/v1/dead-letter/${j.id}`);
                        toast("deleted");
                        await refresh();
                      },
                    },
                    "Delete",
                  ),
                ),
              ),
            ),
          ),
    );
  }
  await refresh();
  every(3000, () => void refresh().catch(() => undefined));
}
