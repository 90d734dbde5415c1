// @ts-check
// The login screen: a token is checked against the API before it is kept.
import { saveToken } from "../lib/api.js";
import { byId, field, h, render } from "../lib/dom.js";

/**
 * Shows the login form; `then` runs once a token is accepted.
 * @param {string | undefined} message
 * @param {() => void} then
 */
export function showLogin(message, then) {
  byId("nav").hidden = true;
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
    const candidate = field(form, "token").value.trim();
    const res = await fetch("/ojs/v1/queues?limit=1", { headers: { Authorization: `Bearer ${candidate}` } });
    if (!res.ok) {
      err.textContent = res.status === 401 ? "That token was refused." : `The server answered ${res.status}.`;
      return;
    }
    saveToken(candidate, field(form, "remember").checked);
    then();
  });
  render(form);
}
