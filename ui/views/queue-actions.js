// @ts-check
// The queue page's actions on jobs: the selected jobs retried, cancelled, run now or deleted through the
// Admin API's bulk routes (one request, the result per job), with a confirmation before cancel and
// delete, and the result told as it is ("12 retried, 2 refused: …").
import { api, ApiError } from "../lib/api.js";
import { errorBox, h, toast } from "../lib/dom.js";

/** The bulk actions: the route's name, the button, what was done, and whether to ask first. */
export const bulkActions = /** @type {const} */ ({
  retry: { label: "Retry", done: "retried", ask: false },
  promote: { label: "Run now", done: "run now", ask: false },
  cancel: { label: "Cancel", done: "cancelled", ask: true },
  delete: { label: "Delete", done: "deleted", ask: true },
});
/** @typedef {keyof typeof bulkActions} BulkAction */

/** Refusals told one by one at most; the rest are counted. */
const SHOWN_REFUSALS = 5;

/**
 * The result of a bulk request as the page shows it: what was done, what was refused and why.
 * @param {BulkAction} action
 * @param {{ succeeded: number, failed: number, errors: Array<{ job_id: string, error: string, code: string }> }} r
 */
export function bulkResult(action, r) {
  const head = `${r.succeeded} ${bulkActions[action].done}${r.failed ? `, ${r.failed} refused` : ""}`;
  const shown = r.errors.slice(0, SHOWN_REFUSALS);
  return h(
    "div",
    { id: "bulk-result", "data-succeeded": r.succeeded, "data-refused": r.failed },
    h("p", {}, r.failed ? `${head}:` : head),
    r.failed
      ? h(
          "ul",
          { class: "refusals" },
          ...shown.map((e) =>
            h("li", { "data-refused-job": e.job_id }, h("span", { class: "mono" }, e.job_id), `: ${e.error}`),
          ),
          r.errors.length > shown.length ? h("li", {}, `and ${r.errors.length - shown.length} more`) : "",
        )
      : "",
  );
}

/**
 * The selection bar: how many are selected, a button per action, and room for the confirmation and
 * the result. `selected` is the page's selection; `after` reloads the page's list.
 * @param {Set<string>} selected @param {() => Promise<void>} after
 */
export function bulkBar(selected, after) {
  const count = h("span", { id: "selected-count", class: "muted" });
  const ask = h("div", { id: "bulk-confirm" });
  const result = h("div", {});
  /** @param {BulkAction} action @param {string[]} ids */
  async function run(action, ids) {
    ask.replaceChildren();
    try {
      const r = await api("POST", `/ojs/v1/admin/jobs/bulk/${action}`, { job_ids: ids, confirm: true });
      result.replaceChildren(bulkResult(action, r));
      toast(`${r.succeeded} ${bulkActions[action].done}`);
      selected.clear();
    } catch (err) {
      result.replaceChildren(
        err instanceof ApiError ? errorBox(err) : h("p", { class: "error" }, String(err)),
      );
    }
    await after();
  }
  /**
   * Asks before `action`; a yes acts on the jobs selected when asked (the list may refresh meanwhile).
   * @param {BulkAction} action
   */
  function confirmFirst(action) {
    const ids = [...selected];
    const n = ids.length;
    const what = `${n} job${n === 1 ? "" : "s"}`;
    ask.replaceChildren(
      h(
        "div",
        { class: "confirm" },
        h(
          "p",
          {},
          action === "delete"
            ? `Delete ${what}? Finished jobs are removed for good; others are refused.`
            : `Cancel ${what}? Waiting and running jobs are cancelled; finished ones are refused.`,
        ),
        h(
          "button",
          { id: "bulk-confirm-yes", class: "danger", onclick: () => void run(action, ids) },
          `${bulkActions[action].label} ${what}`,
        ),
        " ",
        h("button", { id: "bulk-confirm-no", onclick: () => ask.replaceChildren() }, "Keep them"),
      ),
    );
  }
  const buttons = /** @type {BulkAction[]} */ (Object.keys(bulkActions)).map((a) =>
    h(
      "button",
      {
        id: `bulk-${a}`,
        class: bulkActions[a].ask ? "danger" : "",
        onclick: () => {
          result.replaceChildren();
          if (bulkActions[a].ask) confirmFirst(a);
          else void run(a, [...selected]);
        },
      },
      bulkActions[a].label,
    ),
  );
  const bar = h("div", { id: "bulk" }, h("div", { class: "toolbar" }, count, ...buttons), ask, result);
  /** Shows the selection's size and enables the buttons when there is one. */
  function update() {
    count.textContent = `${selected.size} selected`;
    for (const b of buttons) b.disabled = selected.size === 0;
    if (selected.size === 0) ask.replaceChildren();
  }
  update();
  return { bar, update };
}

/**
 * A scheduled or retryable job's "Run now" button (POST /ojs/v1/admin/jobs/{id}/promote).
 * @param {any} j @param {() => Promise<void>} after
 */
export function runNowButton(j, after) {
  if (j.state !== "scheduled" && j.state !== "retryable") return "";
  return h(
    "button",
    {
      "data-run-now": j.id,
      onclick: async () => {
        try {
          await api("POST", `/ojs/v1/admin/jobs/${j.id}/promote`, {});
          toast(`${j.id} runs now`);
        } catch (err) {
          toast(err instanceof ApiError ? `refused: ${err.message}` : String(err));
        }
        await after();
      },
    },
    "Run now",
  );
}
