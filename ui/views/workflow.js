// @ts-check
// A workflow (chain, group, batch): its state and progress, and each step with its state, job and
// the steps it waits for, drawn in dependency order (live while it runs).
import { api } from "../lib/api.js";
import { badge, h, render, toast } from "../lib/dom.js";
import { time } from "../lib/format.js";
import { every } from "../lib/live.js";

/** Steps in dependency order (a step after the steps it depends on), as depth levels. @param {any[]} steps */
function levels(steps) {
  /** @type {Map<string, number>} */
  const depth = new Map();
  const byId = new Map(steps.map((s) => [s.id, s]));
  /** @param {any} s @param {Set<string>} seen @returns {number} */
  const of = (s, seen) => {
    const known = depth.get(s.id);
    if (known !== undefined) return known;
    if (seen.has(s.id)) return 0; // the server refuses cycles; never loop on one anyway
    seen.add(s.id);
    const d = Math.max(
      0,
      ...(s.depends_on ?? []).map((/** @type {string} */ id) =>
        byId.has(id) ? of(byId.get(id), seen) + 1 : 0,
      ),
    );
    depth.set(s.id, d);
    return d;
  };
  for (const s of steps) of(s, new Set());
  return [...steps].sort((a, b) => (depth.get(a.id) ?? 0) - (depth.get(b.id) ?? 0));
}

/** @param {string} id */
export async function workflowView(id) {
  const head = h("div");
  const list = h("div", { id: "steps", class: "scroll" });
  render(h("h1", {}, "Workflow ", h("span", { class: "mono" }, id)), head, h("h2", {}, "Steps"), list);
  async function refresh() {
    const { workflow: w } = await api("GET", `/ojs/v1/workflows/${encodeURIComponent(id)}`);
    const total = w.steps_total ?? w.jobs_total;
    const done = w.steps_completed ?? w.jobs_completed;
    head.replaceChildren(
      h(
        "div",
        { class: "toolbar" },
        h(
          "button",
          {
            id: "cancel-workflow",
            class: "danger",
            disabled: w.state !== "running",
            onclick: async () => {
              await api("POST", `/ojs/v1/workflows/${encodeURIComponent(id)}/cancel`, {});
              toast("workflow cancelled");
              await refresh();
            },
          },
          "Cancel workflow",
        ),
      ),
      h(
        "dl",
        { class: "fields" },
        ...[
          ["name", w.name],
          ["kind", w.type],
          ["state", badge(w.state)],
          ["progress", total === undefined ? undefined : `${done} of ${total} completed`],
          ["failed", w.jobs_failed || undefined],
          ["created", time(w.created_at)],
          ["created by", w.created_by],
          ["completed", w.completed_at && time(w.completed_at)],
        ]
          .filter(([, v]) => v !== undefined && v !== "")
          .flatMap(([k, v]) => [h("dt", {}, k), h("dd", { "data-field": k }, v)]),
      ),
    );
    const steps =
      w.steps ??
      w.job_ids.map((/** @type {string} */ j, /** @type {number} */ i) => ({
        id: String(i + 1),
        type: "",
        state: "",
        job_id: j,
        depends_on: [],
      }));
    list.replaceChildren(
      h(
        "table",
        {},
        h("tr", {}, ...["step", "type", "state", "job", "waits for"].map((t) => h("th", {}, t))),
        ...levels(steps).map((s) =>
          h(
            "tr",
            { "data-step": s.id },
            h("td", {}, s.id),
            h("td", {}, s.type),
            h("td", {}, s.state ? badge(s.state) : "–"),
            h(
              "td",
              {},
              s.job_id ? h("a", { class: "mono", href: `#/jobs/${s.job_id}` }, s.job_id) : "not yet enqueued",
            ),
            h("td", {}, s.depends_on.length ? s.depends_on.join(", ") : "–"),
          ),
        ),
      ),
    );
  }
  await refresh();
  every(2000, () => void refresh().catch(() => undefined));
}
