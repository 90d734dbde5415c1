// The jetjob dashboard: a small single-page app over the same REST API the CLI uses. No build step.
// The token stays in the browser (sessionStorage, or localStorage with "remember"); every request
// sends it as a bearer token, and live streams (SSE) pass it as ?access_token=.
const main = document.getElementById("main");
const nav = document.getElementById("nav");
const liveDot = document.getElementById("live");
let token = localStorage.getItem("jetjob.token") ?? sessionStorage.getItem("jetjob.token");

// ---- small helpers -------------------------------------------------------------------------------

/** h("td", { class: "num" }, "12") — builds DOM; strings become text nodes (never HTML). */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

const badge = (state, style = state) => h("span", { class: `badge s-${style}`, "data-state": state }, state);
const json = (v, id) => h("pre", { id }, JSON.stringify(v, null, 2));
const time = (iso) => (iso ? new Date(iso).toLocaleString() : "–");
const pad = (n, w = 2) => String(n).padStart(w, "0");
/** Time of day with milliseconds, for timelines where events are close together. */
const clock = (iso) => {
  if (!iso) return "–";
  const d = new Date(iso);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
};
const short = (v, n = 80) => {
  const s = typeof v === "string" ? v : JSON.stringify(v);
  return s === undefined ? "" : s.length > n ? s.slice(0, n - 1) + "…" : s;
};
const dur = (ms) => (ms === undefined ? "–" : ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(2)} s`);

function toast(text) {
  const t = document.getElementById("toast");
  t.textContent = text;
  t.classList.add("show");
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => t.classList.remove("show"), 2500);
}

class ApiError extends Error {
  constructor(status, body) {
    super(body?.error?.message ?? `HTTP ${status}`);
    this.status = status;
    this.code = body?.error?.code;
  }
}

async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  const parsed = text ? JSON.parse(text) : undefined;
  if (res.status === 401) {
    logout("Your token was refused; log in again.");
    throw new ApiError(401, parsed);
  }
  if (!res.ok) throw new ApiError(res.status, parsed);
  return parsed;
}

// Live streams of the current view; closed when the view changes.
let streams = [];
let timers = [];
function stream(path, onEvent) {
  const sep = path.includes("?") ? "&" : "?";
  const es = new EventSource(`${path}${sep}access_token=${encodeURIComponent(token ?? "")}`);
  es.onopen = () => liveDot.classList.add("on");
  es.onerror = () => liveDot.classList.remove("on");
  es.onmessage = (m) => onEvent(JSON.parse(m.data));
  for (const type of [
    "timeline",
    "job.state",
    "job.enqueued",
    "job.scheduled",
    "job.started",
    "job.completed",
    "job.failed",
    "job.retrying",
    "job.discarded",
    "job.cancelled",
    "job.requeued",
    "job.expired",
    "job.progress",
  ]) {
    es.addEventListener(type, (m) => onEvent(JSON.parse(m.data)));
  }
  streams.push(es);
  return es;
}
function every(ms, fn) {
  timers.push(setInterval(fn, ms));
}
function stopLive() {
  for (const s of streams) s.close();
  for (const t of timers) clearInterval(t);
  streams = [];
  timers = [];
  liveDot.classList.remove("on");
}
/** Calls fn at most once per `ms` (trailing). */
function debounce(fn, ms = 250) {
  let t;
  return () => {
    clearTimeout(t);
    t = setTimeout(fn, ms);
  };
}

/** Replaces el's children; arrays are flattened and empty values skipped, as in h(). */
function fill(el, ...nodes) {
  el.replaceChildren(
    ...nodes.flat(2).filter((n) => n !== undefined && n !== null && n !== false && n !== ""),
  );
}

function render(...nodes) {
  fill(main, ...nodes);
}

function errorBox(err) {
  return h("p", { class: "error" }, `${err.message}${err.code ? ` (${err.code})` : ""}`);
}

// ---- login ---------------------------------------------------------------------------------------

function logout(message) {
  token = null;
  localStorage.removeItem("jetjob.token");
  sessionStorage.removeItem("jetjob.token");
  stopLive();
  showLogin(message);
}

function showLogin(message) {
  nav.hidden = true;
  const err = h("p", { class: "error", id: "login-error" }, message ?? "");
  const form = h(
    "form",
    { class: "login", id: "login" },
    h("h1", {}, "Log in to jetjob"),
    h(
      "p",
      { class: "muted" },
      "Paste an API token. `jetjob start` prints one and saves it in .jetjob/admin.token.",
    ),
    h("input", { type: "password", name: "token", placeholder: "jj_…", autocomplete: "off", required: true }),
    h("label", {}, h("input", { type: "checkbox", name: "remember" }), " remember on this browser"),
    h("p", {}, h("button", { class: "primary", type: "submit" }, "Log in")),
    err,
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const candidate = form.elements.token.value.trim();
    const res = await fetch("/ojs/v1/queues?limit=1", { headers: { Authorization: `Bearer ${candidate}` } });
    if (!res.ok) {
      err.textContent = res.status === 401 ? "That token was refused." : `The server answered ${res.status}.`;
      return;
    }
    token = candidate;
    (form.elements.remember.checked ? localStorage : sessionStorage).setItem("jetjob.token", token);
    route();
  });
  render(form);
}

// ---- views ---------------------------------------------------------------------------------------

const states = [
  "available",
  "active",
  "scheduled",
  "retryable",
  "pending",
  "completed",
  "discarded",
  "cancelled",
];

/** A queue's stats response (OJS http-binding §11.2: counts under `stats`) as one flat object. */
function statsOf(r) {
  return { ...r.stats, name: r.name, paused: r.paused };
}

async function queueStats() {
  const { queues } = await api("GET", "/ojs/v1/queues?limit=1000");
  return Promise.all(
    queues.map(async (q) => statsOf(await api("GET", `/ojs/v1/queues/${encodeURIComponent(q.name)}/stats`))),
  );
}

function sparkline(points) {
  const w = 600;
  const hgt = 70;
  const max = Math.max(1, ...points);
  const step = w / Math.max(1, points.length - 1);
  const d = points
    .map((p, i) => `${(i * step).toFixed(1)},${(hgt - 4 - (p / max) * (hgt - 8)).toFixed(1)}`)
    .join(" ");
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", `0 0 ${w} ${hgt}`);
  svg.setAttribute("preserveAspectRatio", "none");
  const line = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
  line.setAttribute("points", d);
  line.setAttribute("fill", "none");
  line.setAttribute("stroke", "#2f6fed");
  line.setAttribute("stroke-width", "2");
  svg.append(line);
  return svg;
}

const throughput = { last: undefined, points: [] };

/** Fills the chart's past from recent lifecycle events: finished jobs per second, 2 s buckets, 3 minutes. */
async function seedThroughput() {
  const { events } = await api("GET", "/ojs/v1/events?types=job.completed,job.discarded&limit=1000");
  const now = Date.now();
  const buckets = new Array(90).fill(0);
  for (const e of events) {
    const age = now - Date.parse(e.timestamp);
    const i = 89 - Math.floor(age / 2000);
    if (i >= 0 && i < 90) buckets[i] += 0.5;
  }
  throughput.points = buckets;
}

async function overview() {
  const cards = h("div", { class: "cards" });
  const chart = h("div", { class: "spark", id: "throughput" });
  const queuesTable = h("div", { id: "queues" });
  const agentsTable = h("div", { id: "agents" });
  render(
    h("h1", {}, "Overview"),
    cards,
    h("h2", {}, "Throughput (jobs finished per second, all queues)"),
    chart,
    h("h2", {}, "Queues"),
    queuesTable,
    h("h2", {}, "Workers and agents online"),
    agentsTable,
  );

  async function refresh() {
    const [stats, workers, withConsumers] = await Promise.all([
      queueStats(),
      api("GET", "/api/v1/workers"),
      api("GET", "/api/v1/queues").catch(() => ({ queues: [] })),
    ]);
    const consumersOf = new Map(withConsumers.queues.map((q) => [q.name, q]));
    const agents = workers.workers.filter((w) => w.kind !== "queue");
    const queueWorkers = workers.workers.filter((w) => w.kind === "queue");
    const sum = (k) => stats.reduce((a, s) => a + (s[k] ?? 0), 0);
    const finished = sum("completed") + sum("discarded");
    const now = Date.now();
    if (throughput.last) {
      const rate = Math.max(0, (finished - throughput.last.finished) / ((now - throughput.last.at) / 1000));
      throughput.points.push(rate);
      if (throughput.points.length > 90) throughput.points.shift();
    }
    throughput.last = { finished, at: now };
    const latest = throughput.points.at(-1) ?? 0;
    cards.replaceChildren(
      ...[
        ["queues", stats.length],
        ["waiting", sum("available")],
        ["running", sum("active")],
        ["completed", sum("completed")],
        ["discarded", sum("discarded")],
        ["agents online", agents.length],
        ["queue workers", queueWorkers.length],
        ["jobs/s now", latest.toFixed(1)],
      ].map(([l, n]) =>
        h("div", { class: "card" }, h("div", { class: "n", "data-card": l }, n), h("div", { class: "l" }, l)),
      ),
    );
    chart.replaceChildren(
      throughput.points.length > 1 ? sparkline(throughput.points) : h("p", { class: "muted" }, "collecting…"),
    );
    queuesTable.replaceChildren(
      stats.length === 0
        ? h("p", { class: "muted" }, "No queues yet: enqueue a job to create one.")
        : h(
            "table",
            {},
            h(
              "tr",
              {},
              h("th", {}, "queue"),
              h("th", {}, "status"),
              ...["available", "active", "completed", "discarded", "cancelled", "retried"].map((k) =>
                h("th", { class: "num" }, k),
              ),
              h("th", { class: "num" }, "workers"),
            ),
            ...stats.map((s) =>
              h(
                "tr",
                { "data-queue": s.name },
                h("td", {}, h("a", { href: `#/queues/${encodeURIComponent(s.name)}` }, s.name)),
                h("td", {}, s.paused ? badge("paused") : badge("active", "active-q")),
                ...["available", "active", "completed", "discarded", "cancelled", "retried"].map((k) =>
                  h("td", { class: "num", "data-count": k }, s[k] ?? 0),
                ),
                h("td", { class: "num", "data-count": "consumers" }, consumersCell(consumersOf.get(s.name))),
              ),
            ),
          ),
    );
    agentsTable.replaceChildren(
      workers.workers.length === 0
        ? h("p", { class: "muted" }, "No agents or queue workers online.")
        : h(
            "table",
            {},
            h(
              "tr",
              {},
              h("th", {}, "kind"),
              h("th", {}, "name"),
              h("th", {}, "state"),
              h("th", {}, "running"),
              h("th", {}, "labels / queues"),
            ),
            ...agents.map((w) =>
              h(
                "tr",
                {},
                h("td", {}, "agent"),
                h("td", {}, w.hostname),
                h("td", {}, badge(w.state)),
                h("td", {}, `${w.running}/${w.concurrency}`),
                h("td", {}, labelsText(w.labels)),
              ),
            ),
            ...queueWorkers.map((w) =>
              h(
                "tr",
                { "data-queue-worker": w.id },
                h("td", {}, "queue"),
                h("td", { class: "mono" }, w.id),
                h("td", {}, badge("online", "ready")),
                h("td", {}, `${w.running}/${w.concurrency}`),
                h("td", {}, queueLinks(w.queues)),
              ),
            ),
          ),
    );
  }
  if (throughput.points.length === 0) await seedThroughput().catch(() => undefined);
  await refresh();
  const soon = debounce(() => void refresh().catch(() => undefined), 300);
  stream("/api/v1/events/stream", soon);
  every(2000, () => void refresh().catch(() => undefined));
}

const labelsText = (labels) =>
  Object.entries(labels ?? {})
    .map(([k, v]) => `${k}:${v}`)
    .join(", ") || "–";

async function queueView(name, state) {
  const enc = encodeURIComponent(name);
  const head = h("div");
  const list = h("div", { id: "jobs" });
  const tabs = h(
    "div",
    { class: "toolbar tabs" },
    h("a", { href: `#/queues/${enc}`, class: state ? "" : "active" }, "all"),
    ...states.map((s) =>
      h("a", { href: `#/queues/${enc}?state=${s}`, class: state === s ? "active" : "" }, s),
    ),
  );
  render(h("h1", {}, "Queue ", h("span", { class: "mono" }, name)), head, tabs, list);
  let cursor;
  async function refreshHead() {
    const s = statsOf(await api("GET", `/ojs/v1/queues/${enc}/stats`));
    const toggle = h(
      "button",
      {
        id: "pause-toggle",
        onclick: async () => {
          await api("POST", `/ojs/v1/queues/${enc}/${s.paused ? "resume" : "pause"}`, {});
          toast(s.paused ? "resumed" : "paused");
          await refreshHead();
        },
      },
      s.paused ? "Resume" : "Pause",
    );
    const { workers: takers } = await api("GET", "/api/v1/workers?kind=queue").catch(() => ({ workers: [] }));
    const consumers = takers.filter((w) => w.queues.includes(name)).length;
    const waitingAlone = consumers === 0 && !s.paused && (s.available ?? 0) > 0;
    const consumerNote = h(
      "span",
      { id: "consumers", "data-consumers": consumers },
      waitingAlone
        ? h("span", { class: "badge s-offline" }, "⚠ jobs wait, no worker takes this queue")
        : `${consumers} worker${consumers === 1 ? "" : "s"} online`,
    );
    head.replaceChildren(
      h(
        "div",
        { class: "cards" },
        ...states
          .filter((k) => k in s || k === "available")
          .map((k) =>
            h("div", { class: "card" }, h("div", { class: "n" }, s[k] ?? 0), h("div", { class: "l" }, k)),
          ),
      ),
      h(
        "div",
        { class: "toolbar" },
        s.paused ? badge("paused") : badge("active", "active-q"),
        toggle,
        consumerNote,
      ),
    );
  }
  async function refreshList(more) {
    const q = new URLSearchParams({ queue: name, limit: "50" });
    if (state) q.set("state", state);
    if (more && cursor) q.set("cursor", cursor);
    const page = await api("GET", `/api/v1/jobs?${q}`);
    cursor = page.next_cursor;
    const rows = page.jobs.map((j) =>
      h(
        "tr",
        { "data-job": j.id },
        h("td", {}, h("a", { class: "mono", href: `#/jobs/${j.id}` }, j.id)),
        h("td", {}, j.type),
        h("td", {}, badge(j.state)),
        h("td", { class: "num" }, `${j.attempt}/${j.max_attempts}`),
        h("td", {}, short(j.args, 60)),
        h("td", {}, time(j.created_at)),
      ),
    );
    const table = more
      ? list.querySelector("table")
      : h(
          "table",
          {},
          h("tr", {}, ...["id", "type", "state", "attempt", "args", "created"].map((t) => h("th", {}, t))),
        );
    table.append(...rows);
    const moreButton = cursor
      ? h("p", {}, h("button", { onclick: () => void refreshList(true) }, "More"))
      : "";
    list.replaceChildren(
      page.jobs.length === 0 && !more ? h("p", { class: "muted" }, "No jobs here.") : table,
      moreButton,
    );
  }
  await Promise.all([refreshHead(), refreshList(false)]);
  const soon = debounce(
    () => void Promise.all([refreshHead(), refreshList(false)]).catch(() => undefined),
    300,
  );
  stream(`/ojs/v1/queues/${enc}/events`, soon);
}

/**
 * The current attempt's progress (OJS progress extension) as a bar with its percent and message,
 * or undefined when the attempt reported none.
 */
function progressBar(j) {
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

async function jobView(id) {
  const { job } = await api("GET", `/api/v1/jobs/${encodeURIComponent(id)}`);
  if (job.target !== undefined && job.op !== undefined) return fleetJobView(job);
  const body = h("div");
  const actions = h("div", { class: "toolbar" });
  render(h("h1", {}, "Job ", h("span", { class: "mono" }, id)), actions, body);
  const events = [];
  function draw(j) {
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
      h("h2", {}, "Args"),
      json(j.args),
      j.result !== undefined ? [h("h2", {}, "Result"), json(j.result, "result")] : "",
      j.error ? [h("h2", {}, "Error"), json(j.error, "error")] : "",
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
                  h("td", {}, e.message ?? ""),
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
}

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

function fleetJobView(initial) {
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

// Verbs that make an operation a query when no agent declares its kind (as src/fleet/kinds.ts).
const readVerbs = new Set(["get", "list", "status", "read", "query", "ping", "check", "show"]);

/**
 * The kind a job of `op` gets on these agents, decided as the controller does (fleet/controller.ts):
 * modify if any of them declares it so, query if they declare it, else by the name's last segment.
 */
function operationKind(op, agents) {
  const kinds = agents.flatMap((a) => (a.operations ?? []).filter((o) => o.name === op).map((o) => o.kind));
  if (kinds.includes("modify")) return "modify";
  if (kinds.length > 0) return "query";
  return readVerbs.has(op.slice(op.lastIndexOf(".") + 1)) ? "query" : "modify";
}

const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;
const hostChips = (hosts, attr) =>
  h("ul", { class: "hostlist" }, ...hosts.map((x) => h("li", { [attr]: x }, x)));

/** Hosts a target names or matches but a job would not run on, with why (host, state, reason). */
function leftOutTable(leftOut, id) {
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

async function fleetList() {
  const runButton = h("button", { class: "primary", type: "submit", disabled: true }, "Run");
  const form = h(
    "form",
    { class: "inline", id: "run" },
    h("input", {
      name: "op",
      placeholder: "operation, e.g. system.hostname.get",
      value: "system.hostname.get",
      required: true,
    }),
    h("input", {
      name: "target",
      placeholder: "target, e.g. all, group:web, web-*",
      value: "all",
      required: true,
    }),
    h("input", { name: "args", placeholder: "args as JSON (optional)" }),
    runButton,
  );
  // What the target selects now (refreshed as the fields change and every few seconds), and the
  // confirmation a modify operation on more than one host needs before the job is created.
  const preview = h("div", { id: "preview", class: "preview" });
  const confirmBox = h("div", { id: "confirm" });
  const err = h("p", { class: "error", id: "run-error" });
  const list = h("div");
  render(h("h1", {}, "Fleet jobs"), form, preview, confirmBox, err, list);

  const fields = () => ({ op: form.elements.op.value.trim(), target: form.elements.target.value.trim() });
  let edits = 0; // user edits of the form; a confirmation or a submit is for the fields as they were
  let asked = 0;
  let shown = 0; // previews requested, and the newest drawn (an older answer never replaces it)

  async function resolve({ op, target }) {
    const q = new URLSearchParams({ target });
    if (op) q.set("op", op);
    const sel = await api("GET", `/api/v1/targets/resolve?${q}`);
    return { op, target, sel, kind: operationKind(op, sel.agents ?? []) };
  }

  function drawPreview(p, error) {
    runButton.disabled = !p || p.sel.hosts.length === 0;
    if (!p) {
      fill(preview, h("p", { class: "error", id: "preview-error" }, `No preview: ${error.message}`));
      return;
    }
    const { hosts } = p.sel;
    const left = p.sel.left_out ?? [];
    fill(
      preview,
      h(
        "p",
        { id: "preview-summary" },
        hosts.length === 0
          ? h("strong", { class: "error" }, "No host can run this job now, so it cannot be run.")
          : `Would run on ${plural(hosts.length, "host")}`,
        p.op
          ? [
              " · ",
              h("code", {}, p.op),
              " is a ",
              h("span", { class: `badge kind-${p.kind}`, id: "preview-kind" }, p.kind),
              " operation",
            ]
          : "",
        left.length ? ` · ${left.length} left out` : "",
      ),
      hosts.length ? hostChips(hosts, "data-preview-host") : "",
      left.length ? leftOutTable(left, "preview-left-out") : "",
    );
  }

  /** Resolves the fields and draws the answer unless a newer one is drawn already. */
  async function showPreview(req) {
    const n = ++asked;
    let p;
    let error;
    try {
      p = await resolve(req);
    } catch (x) {
      error = x;
    }
    if (n > shown) {
      shown = n;
      drawPreview(p, error);
    }
    return p;
  }

  async function refreshPreview() {
    const req = fields();
    if (!req.target) {
      runButton.disabled = true;
      fill(preview, h("p", { class: "muted" }, "Enter a target to see which hosts it selects."));
      return;
    }
    await showPreview(req);
  }

  async function run(p, args) {
    try {
      const r = await api("POST", "/api/v1/jobs", {
        op: p.op,
        target: p.target,
        ...(args === undefined ? {} : { args }),
      });
      location.hash = `#/jobs/${r.job.id}`;
    } catch (x) {
      err.textContent = x.message;
    }
  }

  const sameHosts = (a, b) => a.length === b.length && [...a].sort().join("\n") === [...b].sort().join("\n");

  /** A modify operation on more than one host runs only after "Run on N hosts" is clicked. */
  function askConfirmation(p, args, changed = false) {
    const n = p.sel.hosts.length;
    const left = p.sel.left_out ?? [];
    const version = edits;
    fill(
      confirmBox,
      h(
        "div",
        { class: "confirm" },
        changed ? h("p", { class: "error" }, "The hosts the target selects changed: check them again.") : "",
        h("p", {}, h("code", {}, p.op), ` is a modify operation: it will change ${plural(n, "host")}.`),
        hostChips(p.sel.hosts, "data-confirm-host"),
        left.length
          ? h(
              "p",
              { class: "muted" },
              `${plural(left.length, "more host")} the target names or matches will be recorded as skipped or unreachable (see above).`,
            )
          : "",
        h(
          "div",
          { class: "toolbar" },
          h(
            "button",
            {
              id: "confirm-run",
              class: "danger",
              type: "button",
              onclick: async (e) => {
                e.target.disabled = true;
                // The fleet may have changed while the question was open: run only what was confirmed.
                const now = await showPreview({ op: p.op, target: p.target });
                if (version !== edits) return;
                if (!now) {
                  fill(confirmBox);
                  return;
                }
                if (!sameHosts(now.sel.hosts, p.sel.hosts) || now.kind !== p.kind) {
                  if (now.sel.hosts.length === 0) fill(confirmBox);
                  else askConfirmation(now, args, true);
                  return;
                }
                fill(confirmBox);
                await run(now, args);
              },
            },
            `Run on ${plural(n, "host")}`,
          ),
          h("button", { id: "confirm-cancel", type: "button", onclick: () => fill(confirmBox) }, "Cancel"),
        ),
      ),
    );
  }

  const previewSoon = debounce(() => void refreshPreview(), 300);
  form.addEventListener("input", (e) => {
    edits++;
    fill(confirmBox); // a confirmation is for the fields as they were
    if (e.target.name === "op" || e.target.name === "target") previewSoon();
  });
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    err.textContent = "";
    fill(confirmBox);
    let args;
    try {
      const text = form.elements.args.value.trim();
      args = text ? JSON.parse(text) : undefined;
    } catch {
      err.textContent = 'args must be JSON, e.g. {"service":"nginx"}';
      return;
    }
    const version = edits;
    const p = await showPreview(fields());
    if (version !== edits || !p || p.sel.hosts.length === 0) return;
    if (p.kind === "modify" && p.sel.hosts.length > 1) askConfirmation(p, args);
    else await run(p, args);
  });
  async function refresh() {
    const page = await api("GET", "/api/v1/jobs?limit=50");
    list.replaceChildren(
      page.jobs.length === 0
        ? h("p", { class: "muted" }, "No fleet jobs yet.")
        : h(
            "table",
            {},
            h(
              "tr",
              {},
              ...["id", "operation", "target", "status", "hosts", "created"].map((t) => h("th", {}, t)),
            ),
            ...page.jobs.map((j) =>
              h(
                "tr",
                {},
                h("td", {}, h("a", { class: "mono", href: `#/jobs/${j.id}` }, j.id)),
                h("td", {}, j.op),
                h("td", {}, h("code", {}, j.target)),
                h("td", {}, badge(j.status)),
                h("td", { class: "num" }, j.hosts.length),
                h("td", {}, time(j.created_at)),
              ),
            ),
          ),
    );
  }
  await Promise.all([refreshPreview(), refresh()]);
  every(3000, () => void refresh().catch(() => undefined));
  // The preview follows the fleet (agents joining, leaving, draining), but never under an open question.
  every(3000, () => {
    if (!confirmBox.hasChildNodes()) void refreshPreview();
  });
}

/** A queue's consumers for a table cell: the count, or a warning when jobs wait and no worker takes them. */
function consumersCell(q) {
  if (!q) return "–";
  if (q.no_consumers)
    return h("span", { class: "badge s-offline", title: "jobs wait and no worker takes this queue" }, "0 ⚠");
  return String(q.consumers);
}

function queueLinks(queues) {
  if (queues.length === 0) return "–";
  return queues.flatMap((q, i) => [
    ...(i > 0 ? [", "] : []),
    h("a", { href: `#/queues/${encodeURIComponent(q)}` }, q),
  ]);
}

async function workersView() {
  const list = h("div");
  const queueList = h("div", { id: "queue-workers" });
  render(
    h("h1", {}, "Workers and agents"),
    h("h2", {}, "Agents"),
    list,
    h("h2", {}, "Queue workers"),
    queueList,
  );
  async function refresh() {
    const { workers: all } = await api("GET", "/api/v1/workers?offline=true");
    const workers = all.filter((w) => w.kind !== "queue");
    const queueWorkers = all.filter((w) => w.kind === "queue");
    queueList.replaceChildren(
      queueWorkers.length === 0
        ? h(
            "p",
            { class: "muted" },
            "No queue workers registered. A worker made with createWorker() from jetjob/worker appears here while it runs.",
          )
        : h(
            "table",
            {},
            h(
              "tr",
              {},
              ...[
                "id",
                "state",
                "running",
                "queues",
                "done / failed",
                "host",
                "version",
                "started",
                "last seen",
              ].map((t) => h("th", {}, t)),
            ),
            ...queueWorkers.map((w) =>
              h(
                "tr",
                { "data-queue-worker": w.id },
                h("td", { class: "mono" }, w.id),
                h(
                  "td",
                  {},
                  !w.online
                    ? badge("offline")
                    : w.state && w.state !== "running"
                      ? badge(w.state, "retryable")
                      : badge("online", "ready"),
                ),
                h("td", { class: "num" }, w.via === "http" ? "–" : `${w.running}/${w.concurrency}`),
                h("td", {}, queueLinks(w.queues)),
                h("td", { class: "num" }, w.via === "http" ? "–" : `${w.completed} / ${w.failed}`),
                h("td", {}, w.via === "http" ? "HTTP worker" : `${w.host} (pid ${w.pid})`),
                h("td", {}, w.version),
                h("td", {}, time(w.started_at)),
                h("td", {}, time(w.last_seen)),
              ),
            ),
          ),
    );
    list.replaceChildren(
      workers.length === 0
        ? h("p", { class: "muted" }, "No agents registered. Start one with `jetjob agent --nats URL`.")
        : h(
            "table",
            {},
            h(
              "tr",
              {},
              ...["hostname", "state", "running", "labels", "facts", "version", "last seen", ""].map((t) =>
                h("th", {}, t),
              ),
            ),
            ...workers.map((w) =>
              h(
                "tr",
                { "data-worker": w.hostname },
                h("td", {}, w.hostname),
                h("td", {}, badge(w.online ? w.state : "offline")),
                h("td", { class: "num" }, `${w.running}/${w.concurrency}`),
                h("td", {}, labelsText(w.labels)),
                h(
                  "td",
                  {},
                  h(
                    "details",
                    {},
                    h(
                      "summary",
                      {},
                      `${Object.keys(w.facts).length} facts, ${w.operations.length} operations`,
                    ),
                    json({ facts: w.facts, operations: w.operations.map((o) => `${o.name} (${o.kind})`) }),
                  ),
                ),
                h("td", {}, w.version),
                h("td", {}, time(w.last_seen)),
                h(
                  "td",
                  {},
                  w.online
                    ? h(
                        "button",
                        {
                          onclick: async () => {
                            await api(
                              "POST",
                              `/api/v1/workers/${encodeURIComponent(w.hostname)}/${w.state === "ready" ? "drain" : "undrain"}`,
                              {},
                            );
                            toast(
                              w.state === "ready"
                                ? `draining ${w.hostname}`
                                : `${w.hostname} takes jobs again`,
                            );
                            await refresh();
                          },
                        },
                        w.state === "ready" ? "Drain" : "Undrain",
                      )
                    : "",
                ),
              ),
            ),
          ),
    );
  }
  await refresh();
  every(2000, () => void refresh().catch(() => undefined));
}

async function dlqView() {
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

async function cronView() {
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

async function locksView() {
  const locks = h("div");
  const keys = h("div");
  render(
    h("h1", {}, "Locks and exclusive keys"),
    h("h2", {}, "Locks"),
    locks,
    h("h2", {}, "Exclusive keys"),
    keys,
  );
  async function refresh() {
    const [l, k] = await Promise.all([api("GET", "/api/v1/locks"), api("GET", "/api/v1/exclusive-keys")]);
    locks.replaceChildren(
      l.locks.length === 0
        ? h("p", { class: "muted" }, "No locks held.")
        : h(
            "table",
            {},
            h(
              "tr",
              {},
              ...["name", "owner", "fencing token", "acquired", "expires"].map((t) => h("th", {}, t)),
            ),
            ...l.locks.map((x) =>
              h(
                "tr",
                {},
                h("td", {}, x.name),
                h("td", {}, x.owner ?? "–"),
                h("td", { class: "num" }, x.fencing_token),
                h("td", {}, time(x.acquired_at)),
                h("td", {}, time(x.expires_at)),
              ),
            ),
          ),
    );
    keys.replaceChildren(
      k.keys.length === 0
        ? h("p", { class: "muted" }, "No exclusive keys held.")
        : h(
            "table",
            {},
            h("tr", {}, ...["key", "holder", "since", "waiting"].map((t) => h("th", {}, t))),
            ...k.keys.map((x) =>
              h(
                "tr",
                {},
                h("td", { class: "mono" }, x.key),
                h("td", {}, x.holder ? h("a", { href: `#/jobs/${x.holder.job_id}` }, x.holder.job_id) : "–"),
                h("td", {}, x.holder ? time(x.holder.since) : "–"),
                h("td", { class: "num" }, x.waiting),
              ),
            ),
          ),
    );
  }
  await refresh();
  every(3000, () => void refresh().catch(() => undefined));
}

// ---- router --------------------------------------------------------------------------------------

async function route() {
  stopLive();
  if (!token) return showLogin();
  nav.hidden = false;
  const hash = location.hash.replace(/^#/, "") || "/";
  const [path, qs] = hash.split("?");
  const params = new URLSearchParams(qs ?? "");
  for (const a of nav.querySelectorAll("a"))
    a.classList.toggle("active", a.getAttribute("href") === `#${path}`);
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  try {
    if (parts.length === 0) await overview();
    else if (parts[0] === "queues" && parts[1]) await queueView(parts[1], params.get("state") ?? undefined);
    else if (parts[0] === "jobs" && parts[1]) await jobView(parts[1]);
    else if (parts[0] === "fleet") await fleetList();
    else if (parts[0] === "workers") await workersView();
    else if (parts[0] === "dlq") await dlqView();
    else if (parts[0] === "cron") await cronView();
    else if (parts[0] === "locks") await locksView();
    else render(h("p", {}, "Nothing here. ", h("a", { href: "#/" }, "Back to the overview.")));
  } catch (err) {
    if (err.status !== 401) render(errorBox(err));
  }
}

document.getElementById("logout").addEventListener("click", () => logout());
document.getElementById("search").addEventListener("submit", (e) => {
  e.preventDefault();
  const id = e.target.elements.id.value.trim();
  if (id) location.hash = `#/jobs/${id}`;
});
window.addEventListener("hashchange", () => void route());
void route();
