// @ts-check
// A fleet job: per-host results, hosts left out, each host's output, the timeline (live).
import { api } from "../lib/api.js";
import { badge, fill, h, render, toast } from "../lib/dom.js";
import { clock, dur, plural, short, time } from "../lib/format.js";
import { debounce, stream } from "../lib/live.js";
import { leftOutTable } from "../lib/widgets.js";

/** Output lines kept per host on a fleet job's page (the newest). */
const outputLines = 200;

/** Timeline events shown as a host's output rather than as timeline rows. */
const outputEvents = new Set(["output", "progress"]);

/**
 * A fleet job's output and progress events gathered per host: `output` `{stream, lines,
 * dropped_lines?}` adds lines (the last {@link outputLines} are kept), `progress` `{progress}`
 * replaces the host's progress.
 */
function hostOutputs(timeline) {
  const byHost = new Map();
  for (const e of timeline) {
    if (!outputEvents.has(e.event)) continue;
    const host = e.host ?? "–";
    let o = byHost.get(host);
    if (!o) byHost.set(host, (o = { lines: [], total: 0, dropped: 0, progress: undefined }));
    const d = e.data ?? {};
    if (Array.isArray(d.lines)) {
      const stream = d.stream === "stderr" ? "stderr" : "stdout";
      for (const text of d.lines) o.lines.push({ stream, text: String(text) });
      o.total += d.lines.length;
      if (o.lines.length > outputLines) o.lines.splice(0, o.lines.length - outputLines);
    }
    if (typeof d.dropped_lines === "number") o.dropped += d.dropped_lines;
    if (d.progress !== undefined) o.progress = d.progress;
  }
  return byHost;
}

export function fleetJobView(initial) {
  const id = initial.id;
  const head = h("div");
  const hosts = h("div", { id: "hosts" });
  const leftOut = h("div", { id: "left-out" });
  const output = h("div", { id: "output" });
  const timeline = h("div", { id: "timeline" });
  render(
    h("h1", {}, "Fleet job ", h("span", { class: "mono" }, id)),
    head,
    h("h2", {}, "Per-host results"),
    hosts,
    leftOut,
    output,
    h("h2", {}, "Timeline"),
    timeline,
  );
  function draw(job) {
    head.replaceChildren(
      h(
        "div",
        { class: "toolbar" },
        badge(job.status),
        h(
          "button",
          {
            id: "cancel",
            class: "danger",
            disabled: job.status !== "running",
            onclick: async () => {
              await api("POST", `/api/v1/jobs/${id}/cancel`, {});
              toast("cancelled");
            },
          },
          "Cancel",
        ),
        h(
          "button",
          {
            id: "retry",
            disabled: job.status === "running" || job.status === "completed",
            onclick: async () => {
              const r = await api("POST", `/api/v1/jobs/${id}/retry`, {});
              location.hash = `#/jobs/${r.job.id}`;
            },
          },
          "Retry failed hosts",
        ),
      ),
      h(
        "dl",
        { class: "fields" },
        ...[
          ["operation", `${job.op} (${job.op_kind})`],
          ["target", h("code", {}, job.target)],
          [
            "hosts",
            `${job.counts.completed}/${job.counts.total} completed, ${job.counts.failed} failed, ${job.counts.unreachable} unreachable, ${job.counts.skipped ?? 0} skipped, ${job.counts.timeout} timed out`,
          ],
          ["created", time(job.created_at)],
          ["created by", job.created_by ?? "–"],
          ["deadline", time(job.deadline_at)],
          ["finished", job.finished_at && time(job.finished_at)],
          ["owner", `${job.owner} (epoch ${job.epoch})`],
          ["retry of", job.retry_of && h("a", { href: `#/jobs/${job.retry_of}` }, job.retry_of)],
          ["args", short(job.args, 200)],
        ]
          .filter(([, v]) => v)
          .flatMap(([k, v]) => [h("dt", {}, k), h("dd", { "data-field": k }, v)]),
      ),
    );
    hosts.replaceChildren(
      h(
        "table",
        {},
        h("tr", {}, ...["host", "state", "duration", "result / error"].map((t) => h("th", {}, t))),
        ...job.results.map((r) =>
          h(
            "tr",
            { "data-host": r.host },
            h("td", {}, r.host),
            h("td", {}, badge(r.state)),
            h("td", { class: "num" }, dur(r.duration_ms)),
            h(
              "td",
              { class: "mono" },
              r.error
                ? `${r.error.code}: ${r.error.message}`
                : r.result === undefined
                  ? ""
                  : short(r.result, 160),
            ),
          ),
        ),
      ),
    );
    fill(
      leftOut,
      job.left_out?.length
        ? [
            h("h2", {}, "Hosts left out"),
            h(
              "p",
              { class: "muted" },
              "The target names or matches these hosts, but the job was not sent to them:",
            ),
            leftOutTable(job.left_out, "left-out-table"),
          ]
        : "",
    );
    const outputs = hostOutputs(job.timeline ?? []);
    fill(
      output,
      outputs.size
        ? [
            h("h2", {}, "Output"),
            ...[...outputs].map(([host, o]) =>
              h(
                "div",
                { class: "output", "data-output-host": host },
                h(
                  "h3",
                  {},
                  host,
                  o.progress === undefined
                    ? ""
                    : h("span", { class: "muted" }, ` progress: ${short(o.progress, 80)}`),
                ),
                o.total > o.lines.length || o.dropped > 0
                  ? h(
                      "p",
                      { class: "muted" },
                      o.total > o.lines.length ? `the last ${o.lines.length} of ${o.total} lines` : "",
                      o.total > o.lines.length && o.dropped > 0 ? "; " : "",
                      o.dropped > 0
                        ? `${plural(o.dropped, "more line")} not stored (the job's output limit)`
                        : "",
                    )
                  : "",
                o.lines.length
                  ? h(
                      "pre",
                      { class: "output-lines" },
                      ...o.lines.map((l) => h("span", { class: `line ${l.stream}` }, `${l.text}\n`)),
                    )
                  : "",
              ),
            ),
          ]
        : "",
    );
    // Show the newest lines.
    for (const pre of output.querySelectorAll("pre")) pre.scrollTop = pre.scrollHeight;
    const events = (job.timeline ?? []).filter((e) => !outputEvents.has(e.event));
    const hidden = (job.timeline?.length ?? 0) - events.length;
    timeline.replaceChildren(
      hidden
        ? h("p", { class: "muted" }, `${plural(hidden, "output or progress event")}: see Output above.`)
        : "",
      h(
        "table",
        {},
        h("tr", {}, ...["time", "event", "host", "epoch", "data"].map((t) => h("th", {}, t))),
        ...events.map((e) =>
          h(
            "tr",
            {},
            h("td", { class: "mono" }, clock(e.timestamp)),
            h("td", {}, e.event),
            h("td", {}, e.host ?? "–"),
            h("td", { class: "num" }, e.epoch),
            h("td", { class: "mono" }, e.data ? short(e.data, 100) : ""),
          ),
        ),
      ),
    );
  }
  draw(initial);
  const reload = debounce(async () => draw((await api("GET", `/api/v1/jobs/${id}`)).job), 100);
  stream(`/api/v1/jobs/${id}/stream`, () => reload());
}
