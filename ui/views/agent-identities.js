// @ts-check
// Agent enrollment on the Workers page (docs/security.md, "Enrolling an agent"): agents waiting to
// join with Accept / Reject, every identity with its state and Revoke (asked first), and a one-time
// enroll token shown once with the command to run on the agent. The same operations as `jetjob agent
// accept|reject|revoke|forget-identity|enroll-token` (/api/v1/agent-identities, admin scope). When the
// server's NATS does not use agent identities, or the token is not an admin's, the section says so.
import { api, ApiError } from "../lib/api.js";
import { badge, errorBox, h, toast } from "../lib/dom.js";
import { time } from "../lib/format.js";

/** Badge colours of the identity states (app.css has no identity-specific ones). */
const stateStyle = /** @type {Record<string, string>} */ ({
  pending: "scheduled",
  accepted: "ready",
  rejected: "discarded",
  revoked: "failed",
});

/** Lifetimes offered for an enroll token. */
const lifetimes = /** @type {Array<[string, number]>} */ ([
  ["1 hour", 60 * 60 * 1000],
  ["24 hours", 24 * 60 * 60 * 1000],
  ["7 days", 7 * 24 * 60 * 60 * 1000],
]);

/** What an identity is called by in paths and the CLI (`web-01`, `worker:etl`). @param {any} i */
const nameOf = (i) => /** @type {string} */ (i.name ?? i.hostname);

/** @param {string} host */
const path = (host) => `/api/v1/agent-identities/${encodeURIComponent(host)}`;

/**
 * The enrollment section: `el` to place on the page, `refresh` to call with the page's own refresh
 * (it never touches an open question or a token being shown).
 */
export function identitiesSection() {
  const off = h("div", { id: "identities-off" });
  const pending = h("div", { id: "pending-agents" });
  const all = h("div", { id: "agent-identities" });
  const ask = h("div", { id: "identity-confirm" });
  const shown = h("div", { id: "enroll-token" });
  const result = h("div", {});
  const lifetime = h(
    "select",
    { id: "enroll-lifetime", "aria-label": "token lifetime" },
    ...lifetimes.map(([label, ms]) => h("option", { value: String(ms) }, label)),
  );
  const tokenButton = h(
    "button",
    { id: "enroll-token-create", onclick: () => void createToken() },
    "Create enroll token",
  );
  const live = h(
    "div",
    {},
    h("h2", {}, "Agents waiting to join"),
    pending,
    h("h2", {}, "Agent identities"),
    all,
    ask,
    result,
    h(
      "p",
      { class: "toolbar" },
      tokenButton,
      " valid for ",
      lifetime,
      h("span", { class: "muted" }, " one use; the agent joins without waiting for Accept"),
    ),
    shown,
  );
  const el = h("section", { id: "enrollment" }, off, live);

  /** Runs a change, shows a refusal in words, and refreshes. @param {() => Promise<unknown>} change */
  async function act(change, done = "") {
    result.replaceChildren();
    try {
      await change();
      if (done) toast(done);
    } catch (err) {
      result.replaceChildren(
        err instanceof ApiError ? errorBox(err) : h("p", { class: "error" }, String(err)),
      );
    }
    await refresh();
  }

  /** @param {string} host */
  function confirmRevoke(host) {
    ask.replaceChildren(
      h(
        "div",
        { class: "confirm" },
        h(
          "p",
          {},
          `Revoke ${host}? Its NATS connections are closed on every node at once and it cannot connect again (forget it to let it ask to join anew).`,
        ),
        h(
          "button",
          {
            id: "revoke-yes",
            class: "danger",
            onclick: () => {
              ask.replaceChildren();
              void act(() => api("POST", `${path(host)}/revoke`), `${host} revoked`);
            },
          },
          `Revoke ${host}`,
        ),
        " ",
        h("button", { id: "revoke-no", onclick: () => ask.replaceChildren() }, "Keep it"),
      ),
    );
  }

  async function createToken() {
    shown.replaceChildren();
    try {
      const t = await api("POST", "/api/v1/agent-enroll-tokens", { expires_in_ms: Number(lifetime.value) });
      shown.replaceChildren(
        h(
          "div",
          { class: "confirm" },
          h("p", {}, "Enroll token, shown once (only its digest is kept). On the agent's machine run:"),
          h("pre", { id: "enroll-command" }, t.command),
          h(
            "p",
            { class: "muted" },
            `Valid until ${time(t.expires_at)}, for one agent. Add --nats-tls-ca <ca.pem> when NATS uses TLS.`,
          ),
          h("button", { id: "enroll-token-hide", onclick: () => shown.replaceChildren() }, "Done"),
        ),
      );
    } catch (err) {
      shown.replaceChildren(
        err instanceof ApiError ? errorBox(err) : h("p", { class: "error" }, String(err)),
      );
    }
  }

  /** @param {any[]} list */
  function pendingTable(list) {
    if (list.length === 0) {
      return h(
        "p",
        { class: "muted" },
        "Nobody is waiting. `jetjob agent --nats URL --enroll` on a machine, or a worker created with an identity, asks to join.",
      );
    }
    return h(
      "table",
      {},
      h("tr", {}, ...["name", "kind", "asked", "from", "queues to grant", ""].map((t) => h("th", {}, t))),
      ...list.map((i) => {
        // A worker takes jobs only from the queues granted here (it needs at least one); an agent
        // gets them for its --queue worker. Prefilled with the queues it asked for.
        const queues = /** @type {HTMLInputElement} */ (
          h("input", {
            "data-queues": nameOf(i),
            value: (i.queues ?? []).join(", "),
            placeholder: i.kind === "worker" ? "e.g. emails, reports (required)" : "none",
            "aria-label": `queues to grant ${nameOf(i)}`,
          })
        );
        const accept = () => {
          const granted = queues.value
            .split(",")
            .map((q) => q.trim())
            .filter((q) => q !== "");
          const body = granted.length > 0 ? { queues: granted } : undefined;
          void act(() => api("POST", `${path(nameOf(i))}/accept`, body), `${nameOf(i)} accepted`);
        };
        return h(
          "tr",
          { "data-pending": nameOf(i) },
          h("td", {}, nameOf(i)),
          h("td", {}, i.kind ?? "agent"),
          h("td", {}, time(i.requested_at)),
          h("td", { class: "mono" }, i.from ?? "–"),
          h("td", {}, queues),
          h(
            "td",
            {},
            h("button", { "data-accept": nameOf(i), onclick: accept }, "Accept"),
            " ",
            h(
              "button",
              {
                "data-reject": nameOf(i),
                onclick: () =>
                  void act(() => api("POST", `${path(nameOf(i))}/reject`), `${nameOf(i)} rejected`),
              },
              "Reject",
            ),
          ),
        );
      }),
    );
  }

  /** @param {any[]} list */
  function identityTable(list) {
    if (list.length === 0) return h("p", { class: "muted" }, "No agent identities yet.");
    return h(
      "table",
      {},
      h(
        "tr",
        {},
        ...["name", "kind", "queues", "state", "asked", "from", "decided", "by", ""].map((t) =>
          h("th", {}, t),
        ),
      ),
      ...list.map((i) =>
        h(
          "tr",
          { "data-identity": nameOf(i) },
          h("td", {}, nameOf(i)),
          h("td", {}, i.kind ?? "agent"),
          h("td", {}, i.queues?.length ? i.queues.join(", ") : "–"),
          h("td", {}, badge(i.state, stateStyle[i.state] ?? i.state)),
          h("td", {}, time(i.requested_at)),
          h("td", { class: "mono" }, i.from ?? "–"),
          h("td", {}, time(i.decided_at)),
          h("td", {}, i.decided_by ? `${i.decided_by}${i.accepted_via === "token" ? " (token)" : ""}` : "–"),
          h(
            "td",
            {},
            i.state === "accepted"
              ? h(
                  "button",
                  { "data-revoke": nameOf(i), class: "danger", onclick: () => confirmRevoke(nameOf(i)) },
                  "Revoke",
                )
              : i.state === "rejected" || i.state === "revoked"
                ? h(
                    "button",
                    {
                      "data-forget": nameOf(i),
                      onclick: () => void act(() => api("DELETE", path(nameOf(i))), `${nameOf(i)} forgotten`),
                    },
                    "Forget",
                  )
                : "",
          ),
        ),
      ),
    );
  }

  /** Says in words why there is nothing to manage here. @param {string} text */
  function sayOff(text) {
    live.hidden = true;
    off.replaceChildren(h("h2", {}, "Agent enrollment"), h("p", { class: "muted" }, text));
  }

  async function refresh() {
    let r;
    try {
      r = await api("GET", "/api/v1/agent-identities");
    } catch (err) {
      if (err instanceof ApiError && err.code === "forbidden") {
        return sayOff("Managing agent identities needs an admin token; this one may only look.");
      }
      throw err;
    }
    if (!r.enabled) return sayOff(r.reason);
    live.hidden = false;
    off.replaceChildren();
    /** @type {any[]} */
    const list = r.identities;
    pending.replaceChildren(pendingTable(list.filter((i) => i.state === "pending")));
    all.replaceChildren(identityTable(list));
  }

  return { el, refresh };
}
