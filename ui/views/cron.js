// @ts-check
// Cron schedules: every schedule with its job and queue, next and last run, its status; add one,
// pause, resume, trigger now, delete.
import { api } from "../lib/api.js";
import { badge, errorBox, field, fill, h, render, toast } from "../lib/dom.js";
import { time } from "../lib/format.js";
import { every } from "../lib/live.js";

/** The queue a schedule's jobs go to: the OJS template keeps it under `options.queue`. @param {any} t */
export const templateQueue = (t) => t?.options?.queue ?? t?.queue ?? "default";

/** @param {any} c */
function jobCell(c) {
  if (c.target !== undefined)
    return h(
      "span",
      { class: "cron-target" },
      `${c.job_template.op ?? c.job_template.type ?? ""} on `,
      h("code", {}, c.target),
    );
  const q = templateQueue(c.job_template);
  return h(
    "span",
    {},
    `${c.job_template.type ?? ""} → `,
    h("a", { href: `#/queues/${encodeURIComponent(q)}`, "data-cron-queue": q }, q),
  );
}

/** The add form: name, expression, job type, queue and args (JSON array). @param {() => Promise<void>} done */
function addForm(done) {
  const err = h("div", { id: "cron-add-error" });
  const form = h(
    "form",
    { class: "inline", id: "cron-add" },
    h("input", { name: "name", placeholder: "name", required: true, "aria-label": "name" }),
    h("input", {
      name: "expression",
      placeholder: "*/5 * * * *",
      required: true,
      "aria-label": "expression",
    }),
    h("input", { name: "type", placeholder: "job type", required: true, "aria-label": "job type" }),
    h("input", { name: "queue", placeholder: "queue (default)", "aria-label": "queue" }),
    h("input", { name: "args", placeholder: "args as a JSON array", "aria-label": "args" }),
    h("button", { class: "primary", type: "submit" }, "Add schedule"),
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    fill(err);
    const v = (/** @type {string} */ n) => field(form, n).value.trim();
    let args = [];
    try {
      if (v("args")) args = JSON.parse(v("args"));
      if (!Array.isArray(args)) throw new Error();
    } catch {
      fill(err, h("p", { class: "error" }, 'args must be a JSON array, e.g. ["a", 1]'));
      return;
    }
    try {
      await api("POST", "/ojs/v1/cron", {
        name: v("name"),
        expression: v("expression"),
        job_template: { type: v("type"), args, options: { queue: v("queue") || "default" } },
      });
      toast("schedule added");
      form.reset();
      await done();
    } catch (x) {
      fill(err, errorBox(/** @type {any} */ (x)));
    }
  });
  return h("div", {}, form, err);
}

export async function cronView() {
  const list = h("div", { id: "crons" });
  render(h("h1", {}, "Cron schedules"), addForm(refresh), list);
  /** @param {any} c @param {string} op @param {string} label @param {string} done @param {string} [cls] */
  const action = (c, op, label, done, cls) =>
    h(
      "button",
      {
        class: cls,
        "data-cron-action": op,
        onclick: async () => {
          const name = encodeURIComponent(c.name);
          if (op === "delete") await api("DELETE", `/ojs/v1/cron/${name}`);
          else await api("POST", `/ojs/v1/cron/${name}/${op}`, {});
          toast(done);
          await refresh();
        },
      },
      label,
    );
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
        ? h("p", { class: "muted" }, "No schedules. Add one above or with `jetjob cron add`.")
        : h(
            "div",
            { class: "scroll" },
            h(
              "table",
              {},
              h(
                "tr",
                {},
                ...[
                  "name",
                  "status",
                  "expression",
                  "time zone",
                  "job → queue / target",
                  "next run",
                  "last run",
                  "",
                ].map((t) => h("th", {}, t)),
              ),
              ...crons.map((c) =>
                h(
                  "tr",
                  { "data-cron": c.name },
                  h("td", {}, c.name),
                  h("td", {}, c.enabled ? badge("enabled", "ready") : badge("paused")),
                  h("td", {}, h("code", {}, c.expression)),
                  h("td", {}, c.timezone),
                  h("td", {}, jobCell(c)),
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
                    { class: "actions" },
                    c.enabled
                      ? action(c, "pause", "Pause", `paused ${c.name}`)
                      : action(c, "resume", "Resume", `resumed ${c.name}`),
                    " ",
                    action(c, "trigger", "Trigger now", `triggered ${c.name}`),
                    " ",
                    action(c, "delete", "Delete", "deleted", "danger"),
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
