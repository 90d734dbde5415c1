// @ts-check
// A queue job: its fields, its timeline, args, result, error and retry history, cancel and retry, live
// events.
import { api } from "../lib/api.js";
import { badge, fill, h, json, render, toast } from "../lib/dom.js";
import { clock, short, time } from "../lib/format.js";
import { debounce, stream } from "../lib/live.js";
import { jobTimeline } from "../lib/timeline.js";
import { errorDetails, progressBar } from "../lib/widgets.js";
import { fleetJobView } from "./fleet-job.js";

export async function jobView(id) {
  const { job } = await api("GET", `/api/v1/jobs/${encodeURIComponent(id)}`);
  if (job.target !== undefined && job.op !== undefined) return fleetJobView(job);
  const body = h("div");
  const actions = h("div", { class: "toolbar" });
  render(h("h1", {}, "Job ", h("span", { class: "mono" }, id)), actions, body);
  const events = [];
  /** The job's stored events (for its timeline), read once; live ones are added to `events`. */
  let stored = [];
  let shown = job;
  function draw(j) {
    shown = j;
    const done = ["completed", "discarded", "cancelled"].includes(j.state);
    actions.replaceChildren(
      badge(j.state),
      h(
        "button",
        {
          id: "cancel",
          class: "danger",
          disabled: done,
          onclick: async () => {
            await api("DELETE", `/ojs/v1/jobs/${encodeURIComponent(id)}`);
            toast("cancelled");
            await reload();
          },
        },
        "Cancel",
      ),
      h(
        "button",
        {
          id: "retry",
          disabled: !(j.state === "discarded" || j.state === "cancelled"),
          onclick: async () => {
            await api("POST", `/api/v1/jobs/${encodeURIComponent(id)}/retry`, {});
            toast("retrying");
            await reload();
          },
        },
        "Retry",
      ),
      h("a", { href: `#/queues/${encodeURIComponent(j.queue)}` }, `queue ${j.queue}`),
    );
    const rows = [
      ["type", j.type],
      ["state", badge(j.state)],
      ["queue", j.queue],
      ["priority", j.priority],
      ["attempt", `${j.attempt} of ${j.max_attempts}`],
      ["created", time(j.created_at)],
      ["created by", j.created_by],
      ["scheduled", j.scheduled_at && time(j.scheduled_at)],
      ["started", j.started_at && time(j.started_at)],
      ["completed", j.completed_at && time(j.completed_at)],
      ["cancelled", j.cancelled_at && time(j.cancelled_at)],
      ["worker", j.worker_id],
      [
        "workflow",
        j.workflow_id && h("a", { class: "mono", href: `#/workflows/${j.workflow_id}` }, j.workflow_id),
      ],
      ["progress", progressBar(j)],
      ["exclusive key", j.exclusive_key],
      ["trace", j.traceparent],
    ].filter(([, v]) => v !== undefined && v !== "");
    fill(
      body,
      h(
        "dl",
        { class: "fields" },
        ...rows.flatMap(([k, v]) => [h("dt", {}, k), h("dd", { "data-field": k }, v)]),
      ),
      h("h2", {}, "Timeline"),
      jobTimeline(j, [...stored, ...events]),
      h("h2", {}, "Args"),
      json(j.args),
      j.result !== undefined ? [h("h2", {}, "Result"), json(j.result, "result")] : "",
      j.error
        ? [
            h("h2", {}, "Error"),
            h(
              "p",
              { class: "error", id: "error-message" },
              `${j.error.code ?? ""}: ${j.error.message ?? ""}`,
            ),
            errorDetails(j.error, "error-stack"),
            h("details", {}, h("summary", {}, "as JSON"), json(j.error, "error")),
          ]
        : "",
      j.errors?.length
        ? [
            h("h2", {}, "Retry history"),
            h(
              "table",
              {},
              h(
                "tr",
                {},
                h("th", {}, "attempt"),
                h("th", {}, "code"),
                h("th", {}, "message"),
                h("th", {}, "at"),
              ),
              ...j.errors.map((e, i) =>
                h(
                  "tr",
                  {},
                  h("td", {}, e.attempt ?? i + 1),
                  h("td", {}, e.code ?? e.type ?? ""),
                  h("td", {}, e.message ?? "", errorDetails(e)),
                  h("td", {}, time(e.occurred_at ?? e.at)),
                ),
              ),
            ),
          ]
        : "",
      h("h2", {}, "Live events"),
      events.length
        ? h(
            "table",
            { id: "events" },
            ...events.map((e) =>
              h(
                "tr",
                {},
                h("td", { class: "mono" }, clock(e.timestamp)),
                h("td", {}, e.type),
                h("td", {}, short(e.data, 120)),
              ),
            ),
          )
        : h("p", { class: "muted" }, "Waiting for events…"),
    );
  }
  async function reload() {
    draw((await api("GET", `/ojs/v1/jobs/${encodeURIComponent(id)}`)).job);
  }
  draw(job);
  const soon = debounce(() => void reload().catch(() => undefined), 150);
  stream(`/ojs/v1/jobs/${encodeURIComponent(id)}/events`, (e) => {
    events.push(e);
    soon();
  });
  // Read after the stream opened, so no event falls between the two (the timeline drops repeats).
  void api("GET", `/ojs/v1/events?job_id=${encodeURIComponent(id)}&limit=1000`)
    .then((r) => {
      stored = r.events ?? [];
      draw(shown);
    })
    .catch(() => undefined);
}
