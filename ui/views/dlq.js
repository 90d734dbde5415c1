// @ts-check
// Dead letters: retry or delete one, or the selected ones.
import { api } from "../lib/api.js";
import { h, render, toast } from "../lib/dom.js";
import { every } from "../lib/live.js";

export async function dlqView() {
  const list = h("div");
  const bar = h("div", { class: "toolbar" });
  render(h("h1", {}, "Dead letters"), bar, list);
  const selected = new Set();
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
    for (const id of [...selected]) if (!page.jobs.some((j) => j.id === id)) selected.delete(id);
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
              h("th", {}, ""),
              ...["id", "type", "queue", "error", "attempts", ""].map((t) => h("th", {}, t)),
            ),
            ...page.jobs.map((j) =>
              h(
                "tr",
                { "data-job": j.id },
                h(
                  "td",
                  {},
                  h("input", {
                    type: "checkbox",
                    checked: selected.has(j.id),
                    onchange: (e) => (e.target.checked ? selected.add(j.id) : selected.delete(j.id)),
                  }),
                ),
                h("td", {}, h("a", { class: "mono", href: `#/jobs/${j.id}` }, j.id)),
                h("td", {}, j.type),
                h("td", {}, j.queue),
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
