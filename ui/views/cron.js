// @ts-check
// Cron schedules: every schedule with its job, next and last run; delete.
import { api } from "../lib/api.js";
import { h, render, toast } from "../lib/dom.js";
import { time } from "../lib/format.js";
import { every } from "../lib/live.js";

export async function cronView() {
  const list = h("div");
  render(h("h1", {}, "Cron schedules"), list);
  async function refresh() {
    // Every schedule: the list is paged (OJS http-binding §17), 1,000 a page.
    const crons = [];
    for (let cursor; ;) {
      const page = await api(
        "GET",
        `/ojs/v1/cron?limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`,
      );
      crons.push(...page.crons);
      cursor = page.pagination?.next_cursor;
      if (!cursor) break;
    }
    list.replaceChildren(
      crons.length === 0
        ? h("p", { class: "muted" }, "No schedules. Add one with `jetjob cron add`.")
        : h(
            "table",
            {},
            h(
              "tr",
              {},
              ...["name", "expression", "time zone", "job / target", "next run", "last run", ""].map((t) =>
                h("th", {}, t),
              ),
            ),
            ...crons.map((c) =>
              h(
                "tr",
                {},
                h("td", {}, c.name),
                h("td", {}, h("code", {}, c.expression)),
                h("td", {}, c.timezone),
                h(
                  "td",
                  {},
                  c.target !== undefined
                    ? h(
                        "span",
                        { class: "cron-target" },
                        `${c.job_template.op ?? c.job_template.type ?? ""} on `,
                        h("code", {}, c.target),
                      )
                    : `${c.job_template.type ?? ""} → ${c.job_template.queue ?? "default"}`,
                ),
                h("td", {}, time(c.next_run_at)),
                h(
                  "td",
                  {},
                  c.last_job_id
                    ? h("a", { href: `#/jobs/${c.last_job_id}` }, time(c.last_run_at))
                    : time(c.last_run_at),
                  c.last_error
                    ? h(
                        "div",
                        { class: "error", title: c.last_error.message },
                        `${c.last_error.code}: ${c.last_error.message}`,
                      )
                    : null,
                ),
                h(
                  "td",
                  {},
                  h(
                    "button",
                    {
                      class: "danger",
                      onclick: async () => {
                        await api("DELETE", `/ojs/v1/cron/${encodeURIComponent(c.name)}`);
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
  every(5000, () => void refresh().catch(() => undefined));
}
