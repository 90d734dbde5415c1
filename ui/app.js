// @ts-check
// The jetjob dashboard: a small single-page app over the same REST API the CLI uses. No build step:
// the browser loads these ES modules as they are (lib/ has the helpers, views/ one file per page).
import { forgetToken, currentToken, whenRefused } from "./lib/api.js";
import { byId } from "./lib/dom.js";
import { stopLive } from "./lib/live.js";
import { route } from "./lib/router.js";
import { cronView } from "./views/cron.js";
import { dlqView } from "./views/dlq.js";
import { fleetList } from "./views/fleet.js";
import { jobView } from "./views/job.js";
import { locksView } from "./views/locks.js";
import { showLogin } from "./views/login.js";
import { overview } from "./views/overview.js";
import { queueView } from "./views/queue.js";
import { workersView } from "./views/workers.js";
import { workflowView } from "./views/workflow.js";
import { workflowsView } from "./views/workflows.js";

/** @type {import("./lib/router.js").Route[]} */
const routes = [
  { first: "", view: () => overview() },
  {
    first: "queues",
    needsId: true,
    view: (p, q) =>
      queueView(p[1] ?? "", q.get("state") ?? undefined, {
        type: q.get("type") ?? undefined,
        id: q.get("id") ?? undefined,
        text: q.get("text") ?? undefined,
      }),
  },
  { first: "jobs", needsId: true, view: (p) => jobView(p[1] ?? "") },
  { first: "fleet", view: () => fleetList() },
  { first: "workers", view: () => workersView() },
  { first: "dlq", view: () => dlqView() },
  { first: "cron", view: () => cronView() },
  { first: "locks", view: () => locksView() },
  { first: "workflows", needsId: true, view: (p) => workflowView(p[1] ?? "") },
  {
    first: "workflows",
    view: (_p, q) => workflowsView(Math.max(1, Number(q.get("page")) || 1), q.get("state") ?? undefined),
  },
];

const show = () =>
  route(routes, {
    loggedIn: () => currentToken() !== null,
    login: () => showLogin(undefined, () => void show()),
  });

/** @param {string} [message] */
function logout(message) {
  forgetToken();
  stopLive();
  showLogin(message, () => void show());
}

whenRefused(logout);
byId("logout").addEventListener("click", () => logout());
byId("search").addEventListener("submit", (e) => {
  e.preventDefault();
  const form = /** @type {HTMLFormElement} */ (e.target);
  const id = /** @type {HTMLInputElement} */ (form.elements.namedItem("id")).value.trim();
  if (id) location.hash = `#/jobs/${id}`;
});
window.addEventListener("hashchange", () => void show());
void show();
