// @ts-check
// The hash router: `#/queues/default?state=failed` → the view whose pattern matches the path, given the
// path's decoded parts and the query. Changing the view stops the old view's live updates.
import { byId, h, render, errorBox } from "./dom.js";
import { stopLive } from "./live.js";

/**
 * A route: the first path part it answers ("" for the overview), whether it needs a second part, and
 * the view to show.
 * @typedef {{ first: string, needsId?: boolean, view: (parts: string[], params: URLSearchParams) => Promise<unknown> | unknown }} Route
 */

/**
 * Shows the view the location's hash names, or the login screen when there is no token.
 * @param {Route[]} routes
 * @param {{ loggedIn: () => boolean, login: () => void }} auth
 */
export async function route(routes, auth) {
  stopLive();
  if (!auth.loggedIn()) return auth.login();
  const nav = byId("nav");
  nav.hidden = false;
  const hash = location.hash.replace(/^#/, "") || "/";
  const [path = "/", qs] = hash.split("?");
  const params = new URLSearchParams(qs ?? "");
  for (const a of nav.querySelectorAll("a"))
    a.classList.toggle("active", a.getAttribute("href") === `#${path}`);
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  const found = routes.find((r) => r.first === (parts[0] ?? "") && (!r.needsId || parts[1]));
  try {
    if (found) await found.view(parts, params);
    else render(h("p", {}, "Nothing here. ", h("a", { href: "#/" }, "Back to the overview.")));
  } catch (err) {
    const e = /** @type {{ status?: number, message: string, code?: string }} */ (err);
    if (e.status !== 401) render(errorBox(e));
  }
}
