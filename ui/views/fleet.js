// @ts-check
// Fleet jobs: the run form with a live preview of the hosts a target selects (and a confirmation for
// a modify operation on more than one host), and the latest fleet jobs.
import { api } from "../lib/api.js";
import { badge, field, fill, h, render } from "../lib/dom.js";
import { plural, time } from "../lib/format.js";
import { debounce, every } from "../lib/live.js";
import { hostChips, leftOutTable } from "../lib/widgets.js";

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

export async function fleetList() {
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

  const fields = () => ({ op: field(form, "op").value.trim(), target: field(form, "target").value.trim() });
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
      err.textContent = /** @type {Error} */ (x).message;
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
    const name = /** @type {HTMLInputElement} */ (e.target).name;
    if (name === "op" || name === "target") previewSoon();
  });
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    err.textContent = "";
    fill(confirmBox);
    let args;
    try {
      const text = field(form, "args").value.trim();
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
