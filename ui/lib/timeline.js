// @ts-check
// A queue job's timeline: created → (scheduled) → each attempt (queued → started → finished, with its
// wait and run time and its progress) → the end. Built only from what the server records: the job's
// fields (created_at, scheduled_at, started_at, completed_at, errors[] with attempt and occurred_at)
// and its stored lifecycle events (job.started with ready_at, job.completed/job.failed with
// duration_ms, job.progress). A time neither keeps is shown as "not recorded", never guessed; the
// events are kept for a while only (24 h or 64 MiB by default), so an old job's attempts may lack them.
import { h } from "./dom.js";
import { clock, dur, time } from "./format.js";
import { progressBar } from "./widgets.js";

/**
 * @typedef {{
 *   attempt: number,
 *   readyAt?: number, startedAt?: number, endedAt?: number, runMs?: number,
 *   outcome?: string, error?: string, worker?: string, progress?: number,
 * }} Attempt
 */

const attemptEvents = new Set(["job.started", "job.completed", "job.failed", "job.progress"]);

/** A time in epoch ms, or undefined when absent or not a time (never NaN on the page). */
const ms = (/** @type {string | undefined} */ iso) => {
  const t = iso ? Date.parse(iso) : NaN;
  return Number.isFinite(t) ? t : undefined;
};

/**
 * The job's attempts, oldest first, from its fields and its events (any order, repeats allowed).
 * @param {any} job the job view
 * @param {any[]} events events in the ojs-events envelope
 * @returns {Attempt[]}
 */
export function attemptsOf(job, events) {
  /** @type {Map<number, Attempt>} */
  const byNo = new Map();
  const of = (/** @type {number} */ n) => {
    let a = byNo.get(n);
    if (!a) byNo.set(n, (a = { attempt: n }));
    return a;
  };
  const seen = new Set();
  const sorted = [...events]
    .filter((e) => (seen.has(e.id) ? false : (seen.add(e.id), true)))
    .sort((x, y) => Date.parse(x.time ?? x.timestamp) - Date.parse(y.time ?? y.timestamp));
  for (const e of sorted) {
    const n = e.data?.attempt;
    // Only the events of an attempt itself (job.enqueued counts the attempts made before it, so it
    // names no attempt of its own).
    if (typeof n !== "number" || n < 1 || !attemptEvents.has(e.type)) continue;
    const a = of(n);
    const at = ms(e.time ?? e.timestamp);
    switch (e.type) {
      case "job.started":
        a.startedAt = at;
        a.readyAt = ms(e.data.ready_at);
        if (e.data.worker_id) a.worker = e.data.worker_id;
        a.outcome ??= "running";
        break;
      case "job.completed":
      case "job.failed":
        a.endedAt = at;
        if (typeof e.data.duration_ms === "number") a.runMs = e.data.duration_ms;
        a.outcome = e.type === "job.completed" ? "completed" : "failed";
        if (e.data.error_code) a.error = e.data.error_code;
        break;
      case "job.progress":
        if (typeof e.data.progress_percent === "number") a.progress = e.data.progress_percent;
        break;
      default:
        break;
    }
  }
  // The error history keeps every failed attempt (with its end), also once the events are gone.
  for (const err of job.errors ?? []) {
    if (typeof err.attempt !== "number" || err.attempt < 1) continue;
    const a = of(err.attempt);
    a.endedAt ??= ms(err.occurred_at);
    a.outcome = "failed";
    a.error = [err.code, err.message].filter(Boolean).join(": ");
  }
  // The job's own fields describe its latest attempt.
  if (typeof job.attempt === "number" && job.attempt >= 1 && job.started_at) {
    const a = of(job.attempt);
    a.startedAt ??= ms(job.started_at);
    if (job.worker_id) a.worker ??= job.worker_id;
    if (job.state === "completed") {
      a.outcome = "completed";
      a.endedAt ??= ms(job.completed_at);
    } else if (job.state === "active") a.outcome = "running";
  }
  // Cancelled while it ran: that attempt ended with the cancel.
  const latest = byNo.get(job.attempt);
  if (job.state === "cancelled" && latest?.outcome === "running") {
    latest.outcome = "cancelled";
    latest.endedAt ??= ms(job.cancelled_at);
  }
  return [...byNo.values()].sort((x, y) => x.attempt - y.attempt);
}

/** A duration between two recorded times, or "not recorded". */
const span = (/** @type {string} */ kind, /** @type {number | undefined} */ ms) =>
  ms === undefined
    ? h("span", { class: "tl-dur muted", "data-duration": kind, "data-missing": "" }, `${kind}: not recorded`)
    : h("span", { class: "tl-dur", "data-duration": kind, "data-ms": ms }, `${kind} ${dur(Math.max(0, ms))}`);

/** A point in time, or "not recorded". */
const point = (/** @type {string} */ what, /** @type {number | undefined} */ at) =>
  h(
    "span",
    { class: "tl-point", "data-point": what },
    h("span", { class: "tl-label" }, what),
    " ",
    at === undefined
      ? h("span", { class: "muted", "data-missing": "" }, "not recorded")
      : h(
          "time",
          { datetime: new Date(at).toISOString(), title: time(new Date(at).toISOString()) },
          clock(new Date(at).toISOString()),
        ),
  );

const diff = (/** @type {number | undefined} */ a, /** @type {number | undefined} */ b) =>
  a === undefined || b === undefined ? undefined : b - a;

/**
 * The timeline as an ordered list (wraps on narrow screens).
 * @param {any} job the job view
 * @param {any[]} events its events (stored and live)
 */
export function jobTimeline(job, events) {
  const attempts = attemptsOf(job, events);
  const created = ms(job.created_at);
  const steps = [h("li", { "data-step": "created" }, point("created", created))];
  if (job.scheduled_at)
    steps.push(h("li", { "data-step": "scheduled" }, point("scheduled for", ms(job.scheduled_at))));
  /** @type {Attempt | undefined} */
  let prev;
  for (const a of attempts) {
    const last = a.attempt === job.attempt;
    // A retry's backoff: from the failed attempt's end to the retry being due (its wait's start).
    const backoff = prev?.outcome === "failed" ? span("retry delay", diff(prev.endedAt, a.readyAt)) : "";
    prev = a;
    const run = a.runMs ?? diff(a.startedAt, a.endedAt);
    // The latest attempt's progress is the job's own (a completed job shows 1.0); an earlier one's is
    // its last job.progress event (events are sent at most once a second per job).
    const progress =
      last && job.progress_updated_at !== undefined
        ? progressBar(job)
        : a.progress !== undefined
          ? `${a.progress}% reported`
          : "";
    steps.push(
      h(
        "li",
        {
          "data-attempt": a.attempt,
          "data-outcome": a.outcome ?? "unknown",
          class: `tl-attempt o-${a.outcome ?? "unknown"}`,
        },
        h(
          "div",
          { class: "tl-head" },
          `Attempt ${a.attempt}`,
          " ",
          h("span", { class: `badge s-${a.outcome ?? "unknown"}` }, a.outcome ?? "not recorded"),
        ),
        h(
          "div",
          { class: "tl-row" },
          backoff,
          point("queued", a.readyAt),
          span("wait", diff(a.readyAt, a.startedAt)),
          point("started", a.startedAt),
          a.outcome === "running" ? "" : span("run", run),
          a.outcome === "running" ? "" : point(a.outcome === "completed" ? "completed" : "ended", a.endedAt),
        ),
        a.error ? h("div", { class: "tl-error error" }, a.error) : "",
        progress ? h("div", { class: "tl-progress" }, progress) : "",
        a.worker ? h("div", { class: "muted" }, `worker ${a.worker}`) : "",
      ),
    );
  }
  if (job.next_attempt_at)
    steps.push(h("li", { "data-step": "next-attempt" }, point("next attempt at", ms(job.next_attempt_at))));
  if (job.cancelled_at)
    steps.push(h("li", { "data-step": "cancelled" }, point("cancelled", ms(job.cancelled_at))));
  const end = job.state === "completed" || job.state === "discarded" ? ms(job.completed_at) : undefined;
  if (job.state === "discarded") steps.push(h("li", { "data-step": "discarded" }, point("discarded", end)));
  if (end !== undefined && created !== undefined)
    steps.push(
      h("li", { "data-step": "total", class: "muted" }, span("total", end - created), " created → finished"),
    );
  if (attempts.length === 0 && job.state !== "cancelled")
    steps.push(h("li", { class: "muted" }, "No attempt yet."));
  return h("ol", { class: "timeline", id: "timeline" }, ...steps);
}
